"""Conventional TTS engines through the same judges, on the same sentences as quality.py.

    python -m benchmarks.reference_tts [--sentences FILE] [--out benchmarks/results]

pocketsphinx and DNSMOS have no fixed scale on a given sentence set: a word error rate means
something only next to other systems reading the same sentences. This reads
benchmarks/sentences.txt with every engine found on the machine (flite's 16 kHz voices,
festival's voices, espeak-ng; `apt-get install flite festival festvox-us-slt-hts
festvox-kallpc16k espeak-ng`), each doing its own text normalisation as a user would, and
with edgevc's default voice (the shipped bundle unless --bundle). Engines that are not
installed are left out and named. Writes <out>/reference_tts.{json,md}.
"""

import argparse
import json
import logging
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import command
from benchmarks.quality import aggregate
from edgevc.audio.io import load_audio
from edgevc.export.judges import MOS_KEYS, Judges
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer

log = logging.getLogger("reference_tts")
SR = 16000

# name -> (program, argv with TEXT and OUT in place of the sentence file and the WAV)
ENGINES = {
    "flite kal16 (diphone)": ("flite", ["flite", "-voice", "kal16", "-f", "TEXT", "-o", "OUT"]),
    "flite slt (clustergen)": ("flite", ["flite", "-voice", "slt", "-f", "TEXT", "-o", "OUT"]),
    "flite rms (clustergen)": ("flite", ["flite", "-voice", "rms", "-f", "TEXT", "-o", "OUT"]),
    "festival slt (HTS)": ("text2wave", ["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)",
                                         "TEXT", "-o", "OUT"]),
    "festival kal (diphone)": ("text2wave", ["text2wave", "-eval", "(voice_kal_diphone)",
                                             "TEXT", "-o", "OUT"]),
    "espeak-ng en-us (formant)": ("espeak-ng", ["espeak-ng", "-v", "en-us", "-f", "TEXT", "-w", "OUT"]),
}


def speak(argv: list[str], text: str, tmp: Path):
    """The engine's WAV for `text`, at 16 kHz, or None if it failed."""
    src, out = tmp / "text.txt", tmp / "out.wav"
    src.write_text(text + "\n", encoding="utf-8")
    out.unlink(missing_ok=True)
    cmd = [str(src) if a == "TEXT" else str(out) if a == "OUT" else a for a in argv]
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    if r.returncode or not out.exists():
        log.warning("%s failed: %s", cmd[0], r.stderr.decode(errors="replace").strip()[:200])
        return None
    return load_audio(out, SR)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=Path, default=Path(__file__).with_name("sentences.txt"))
    ap.add_argument("--bundle", type=Path, help="edgevc bundle for the comparison row (default: shipped)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    sentences = [s.strip() for s in args.sentences.read_text(encoding="utf-8").splitlines() if s.strip()]
    judges = Judges()
    if judges.asr is None:
        raise SystemExit("error: the pocketsphinx judge will not load (pip install -e .[eval])")

    systems, missing = [], []
    with tempfile.TemporaryDirectory() as d:
        for name, (program, argv) in ENGINES.items():
            if shutil.which(program) is None:
                missing.append(f"{name} ({program} not installed)")
                continue
            rows = []
            for i, text in enumerate(sentences):
                wav = speak(argv, text, Path(d))
                if wav is not None:
                    rows.append(judges.judge(f"s{i + 1:02d}", text, wav)[0])
            log.info("%s: %d sentences", name, len(rows))
            if len(rows) < len(sentences):
                missing.append(f"{name} (failed on {len(sentences) - len(rows)} sentences)")
            if rows:
                systems.append({"name": name, "rows": rows})
    synth = Synthesizer(Bundle.load(args.bundle), load_profile("generic-x86"))
    rows = [judges.judge(f"s{i + 1:02d}", t, synth.synthesize(t))[0] for i, t in enumerate(sentences)]
    systems.append({"name": "edgevc default voice", "rows": rows})

    for s in systems:
        s["summary"] = {k: v for k, v in aggregate(s["rows"]).items() if k != "secs"}
    result = {"command": command("reference_tts"),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "sentences": str(args.sentences), "judges": judges.notes, "left_out": missing,
              "systems": systems}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reference_tts.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Conventional TTS through the same judges\n", f"`{result['command']}`, {result['date']}\n",
             f"{len(sentences)} sentences of `{args.sentences.name}` (the ones quality.py reads), "
             "each engine normalising the text itself, judged at its own output level.\n",
             "| system | WER | CER | DNSMOS OVRL | SIG | BAK | n |", "|---|---|---|---|---|---|---|"]
    for s in systems:
        m = s["summary"]
        mos = " | ".join(f"{m[k]:.2f}" if m.get(k) is not None else "–" for k in MOS_KEYS)
        lines.append(f"| {s['name']} | {100 * m['wer']:.1f}% | {100 * m['cer']:.1f}% | {mos} | {m['n']} |")
    lines += [""] + [f"- {k}: {v}" for k, v in judges.notes.items()]
    lines += [f"- left out: {m}" for m in missing]
    (args.out / "reference_tts.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
