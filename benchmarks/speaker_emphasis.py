"""Speaker emphasis: do clones sound more like their speaker when the enrolled embedding is
pushed away from the average training voice?

    python -m benchmarks.speaker_emphasis --cache cache.npz \
        --heldout-speakers ../shared/data/speech/librispeech-251 --alpha 0 0.5 1 2 3

The acoustic model is conditioned on GE2E embeddings of 3 real and ~130 synthetic voices;
an unseen voice lands between them and comes out sounding like their average. Here each
held-out reader's enrolled embedding e (the bundle's student encoder, 6 s, as in
quality.py) becomes unit(e + alpha * (e - mu)), mu being the mean conditioning embedding of
the cache's transcribed utterances (what the acoustic model trained on). Each alpha clones
the same readers with the same sentences and judges as `quality.py --heldout-speakers
--clone-sentences N`; alpha 0 is that run. Writes <out>/speaker_emphasis.{json,md}.
A measurement only: the runtime does not apply emphasis.
"""

import argparse
import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.machine import command
from benchmarks.quality import aggregate, heldout_voices, set_secs, synth_system
from edgevc.errors import InputError
from edgevc.export.judges import Judges, unit
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.enroll import Enroller
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer

log = logging.getLogger("speaker_emphasis")


def training_mean(cache: Path) -> np.ndarray:
    """Mean conditioning embedding over the cache's transcribed utterances."""
    try:
        with np.load(cache, allow_pickle=False) as z:
            emb, transcribed = z["emb"], np.diff(z["ids_off"]) > 0
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"--cache {cache}: not a feature cache ({type(e).__name__})") from None
    if not transcribed.any():
        raise InputError(f"--cache {cache}: no transcribed utterances")
    return emb[transcribed].mean(0)


def emphasised(e: np.ndarray, mu: np.ndarray, alpha: float) -> np.ndarray:
    return unit(e + alpha * (e - mu)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True, help="feature cache the acoustic model trained on")
    ap.add_argument("--heldout-speakers", type=Path, required=True, metavar="DIR")
    ap.add_argument("--alpha", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--clone-sentences", type=int, default=3)
    ap.add_argument("--bundle", type=Path)
    ap.add_argument("--sentences", type=Path, default=Path(__file__).with_name("sentences.txt"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    mu = training_mean(args.cache)
    judges = Judges()
    if not judges.secs:
        raise InputError(f"the speaker-similarity judge is needed: {judges.notes['secs']}")
    bundle = Bundle.load(args.bundle)
    profile = load_profile("generic-x86")
    synth, enroller = Synthesizer(bundle, profile, "vocoder"), Enroller(bundle, profile)
    sentences = [s.strip() for s in args.sentences.read_text(encoding="utf-8").splitlines()
                 if s.strip()][:args.clone_sentences]
    voices = [(spk, unit(np.concatenate([enroller.embed_wav(w) for w in enroll]).mean(0)),
               unit(np.mean([judges.embed(w) for w in refs], axis=0)))
              for spk, enroll, refs in heldout_voices(args.heldout_speakers)]
    if len(voices) < 2:
        raise InputError(f"{args.heldout_speakers}: fewer than 2 held-out speakers found")
    cents = np.stack([c for _, _, c in voices])
    results = []
    for alpha in args.alpha:
        rows, hits = [], []
        for k, (spk, e, centroid) in enumerate(voices):
            system, embs = synth_system(judges, synth, f"alpha {alpha:g}, {spk}", sentences,
                                        emphasised(e, mu, alpha))
            set_secs(system["rows"], embs, centroid)
            rows += [dict(r, id=f"{spk}/{r['id']}") for r in system["rows"]]
            hits += list(np.argmax(np.stack(embs) @ cents.T, 1) == k)
        agg = dict(aggregate(rows), top1_id=float(np.mean(hits)), alpha=alpha)
        results.append({"alpha": alpha, "aggregate": agg, "rows": rows})
        log.info("alpha %g: %s", alpha, agg)
    res = {"command": command("speaker_emphasis"),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "bundle": str(bundle.root), "speakers": [v[0] for v in voices],
           "judges": judges.notes, "results": results}
    lines = ["| alpha | WER | CER | SECS | DNSMOS OVRL | top-1 | n |", "|---|---|---|---|---|---|---|"]
    for r in results:
        a = r["aggregate"]
        lines.append(f"| {r['alpha']:g} | {a['wer']:.1%} | {a['cer']:.1%} | {a['secs']:.3f} | "
                     f"{a['ovrl_mos']:.2f} | {a['top1_id']:.0%} | {a['n']} |")
    md = (f"# Speaker emphasis on held-out clones\n\n`{res['command']}`, {res['date']}\n\n"
          f"{len(voices)} held-out readers, {len(sentences)} sentences each, enrolled from 6 s by "
          f"the bundle's encoder; top-1 among all of them. Embedding: unit(e + alpha (e - mu)).\n\n"
          + "\n".join(lines) + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speaker_emphasis.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "speaker_emphasis.md").write_text(md)
    print(md, end="")


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        sys.exit(f"speaker_emphasis.py: {e}")
