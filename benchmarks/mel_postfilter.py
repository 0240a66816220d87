"""Probe mel post-filters on a bundle without re-exporting it: the decoder's mel is filtered
in numpy before the vocoder, then the sentences are judged as benchmarks/quality.py does.

    python -m benchmarks.mel_postfilter [--bundle DIR] [--sentences FILE]
        [--filters none,sharpen0.5,sharpen1.0,contrast1.15] [--out benchmarks/results]

- `sharpenB`: each frame plus B times its difference from a 5-band moving average
  (export/mel_postfilter.py, which `edgevc export --mel-sharpen B` folds into the decoder);
- `contrastA`: each frame's deviation from its own mean across bands scaled by A (a
  global-variance style boost).
The sharpening is linear, so filtering the int8 decoder's output here and folding it into
the float decoder before quantization differ only by quantization. Writes
OUT/mel_postfilter.json and .md.
"""

import argparse
import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.machine import command
from benchmarks.quality import Judges, aggregate, synth_system
from edgevc.errors import InputError
from edgevc.export.mel_postfilter import sharpening_matrix
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer


class FilteredSession:
    """An inference session whose first output (the mel) passes through `fn`."""

    def __init__(self, session, fn):
        self.session, self.fn = session, fn

    def run(self, *args):
        out = list(self.session.run(*args))
        out[0] = self.fn(out[0]).astype(np.float32)
        return out

    def __getattr__(self, name):
        return getattr(self.session, name)


def make_filter(name: str):
    """None for 'none', else a function on mel arrays (..., frames, bands)."""
    if name == "none":
        return None
    for prefix in ("sharpen", "contrast"):
        if name.startswith(prefix):
            try:
                value = float(name[len(prefix):])
            except ValueError:
                break
            if prefix == "sharpen":
                return lambda mel: mel @ sharpening_matrix(mel.shape[-1], value).T
            return lambda mel: (mel.mean(-1, keepdims=True)
                                + value * (mel - mel.mean(-1, keepdims=True)))
    raise InputError(f"filter {name!r}: expected none, sharpenB or contrastA (B, A numbers)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, help="bundle folder (default: the shipped one)")
    ap.add_argument("--sentences", type=Path, default=Path(__file__).with_name("sentences.txt"))
    ap.add_argument("--filters", default="none,sharpen0.5,sharpen1.0,contrast1.15")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    filters = {name: make_filter(name) for name in args.filters.split(",")}
    sentences = [s.strip() for s in args.sentences.read_text(encoding="utf-8").splitlines()
                 if s.strip()]
    judges = Judges(None)
    bundle = Bundle.load(args.bundle)
    results = {}
    for name, fn in filters.items():
        synth = Synthesizer(bundle, load_profile("generic-x86"))
        if fn is not None:
            synth.sessions["acoustic_decoder"] = FilteredSession(
                synth.sessions["acoustic_decoder"], fn)
        system, _ = synth_system(judges, synth, name, sentences)
        results[name] = aggregate(system["rows"])
    res = {"command": command("mel_postfilter"), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "bundle": str(bundle.root), "sentences": str(args.sentences), "filters": results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mel_postfilter.json").write_text(json.dumps(res, indent=2))
    lines = ["# Mel post-filters, probed on a bundle", "", f"`{res['command']}`, {res['date']}", "",
             f"{len(sentences)} sentences of `{args.sentences}`, bundle `{bundle.root}`.", "",
             "| filter | Whisper WER | DNSMOS OVRL | SIG | BAK |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {a['wer']:.1%} | {a['ovrl_mos']:.2f} | {a['sig_mos']:.2f} | "
              f"{a['bak_mos']:.2f} |" for n, a in results.items()]
    (args.out / "mel_postfilter.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
