"""Transcribed synthetic voices made on this machine with flite and espeak-ng: more speakers
for the acoustic model and the speaker encoder than the three real transcribed voices.

    apt-get install flite espeak-ng
    python -m edgevc.export.local_voices --sentences ../shared/data/text/cmuarctic.data \
        --per-voice 60 -o local_voices
    python -m edgevc.export.prepare ... --corpus local_voices ...

Writes speaker folders (VOICE/ID.wav + ID.txt, the plain layout `prepare --corpus` reads).
Voices: flite's 16 kHz ones (kal16, awb, rms, slt) and espeak-ng's en-us with its variants
(m1-m7, f1-f5, klatt...), each espeak voice at its own pitch and rate. Each voice reads its
own seeded draw of the sentences; sentences in export/heldout.txt are skipped. They are
synthetic (DATA.md): for variety, not as the only data. Existing files are kept, so a
stopped run resumes.
"""

import argparse
import logging
import random
import re
import shutil
import subprocess
from pathlib import Path

from tqdm import tqdm

from edgevc.export.heldout import HeldOut

log = logging.getLogger(__name__)

FLITE_VOICES = ["kal16", "awb", "rms", "slt"]
ESPEAK_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "klatt", "klatt2", "klatt3", "croak", "whisperf"]


def read_sentences(path: str | Path) -> list[str]:
    """Sentences from festival prompts (`( id "text" )`, e.g. cmuarctic.data) or from a
    pipe-separated list whose last field is the text (LJSpeech metadata, VCTK/LibriTTS psv)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r'\s*\(\s*\S+\s+"(.*)"\s*\)\s*$', line)
        text = m.group(1) if m else (line.rsplit("|", 1)[-1] if "|" in line else "")
        text = text.strip()
        if text:
            out.append(text)
    return out


def voices(available=shutil.which) -> list[tuple[str, list[str]]]:
    """(speaker name, command without text and output) for every voice whose program is
    installed; the command gets `TEXT` and `OUT` substituted."""
    out = []
    if available("flite"):
        out += [(f"flite-{v}", ["flite", "-voice", v, "-t", "TEXT", "-o", "OUT"]) for v in FLITE_VOICES]
    if available("espeak-ng"):
        rng = random.Random(0)  # each variant gets its own fixed pitch (0-99) and rate (wpm)
        for v in ESPEAK_VARIANTS:
            pitch, rate = rng.randint(25, 75), rng.randint(145, 185)
            out.append((f"espeak-{v}", ["espeak-ng", "-v", f"en-us+{v}", "-p", str(pitch),
                                        "-s", str(rate), "-w", "OUT", "TEXT"]))
    return out


def synthesize(command: list[str], text: str, wav: Path) -> None:
    """Run one voice on `text` into `wav`, written under a temporary name and renamed."""
    tmp = wav.with_suffix(".tmp.wav")
    args = [text if a == "TEXT" else str(tmp) if a == "OUT" else a for a in command]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    tmp.replace(wav)


def build(sentences: list[str], out: Path, per_voice: int, seed: int = 0,
          voice_list=None) -> int:
    """Every voice reads `per_voice` sentences; returns the number of files written."""
    held = HeldOut.load()
    pool = [s for s in dict.fromkeys(sentences) if not held.holds("", s)]
    chosen = voice_list if voice_list is not None else voices()
    if not chosen:
        raise SystemExit("error: neither flite nor espeak-ng is installed "
                         "(apt-get install flite espeak-ng)")
    written = 0
    jobs = []
    for k, (name, command) in enumerate(chosen):
        picks = random.Random(seed * 1000 + k).sample(pool, min(per_voice, len(pool)))
        jobs += [(name, command, i, text) for i, text in enumerate(picks)]
    for name, command, i, text in tqdm(jobs, desc="voices", unit="utt"):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        wav, txt = folder / f"{name}_{i:04d}.wav", folder / f"{name}_{i:04d}.txt"
        if wav.exists() and txt.exists():
            continue
        synthesize(command, text, wav)
        txt.write_text(text + "\n", encoding="utf-8")
        written += 1
    log.info("%d voices, %d new files in %s", len(chosen), written, out)
    return written


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", required=True,
                    help="festival prompts (cmuarctic.data) or a pipe-separated list")
    ap.add_argument("--per-voice", type=int, default=60, help="sentences each voice reads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", required=True, help="folder of speaker folders")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not Path(a.sentences).is_file():
        raise SystemExit(f"error: --sentences {a.sentences}: not found")
    sentences = read_sentences(a.sentences)
    if not sentences:
        raise SystemExit(f"error: --sentences {a.sentences}: no sentences found")
    if a.per_voice < 1:
        ap.error("--per-voice: must be at least 1")
    build(sentences, Path(a.out), a.per_voice, a.seed)


if __name__ == "__main__":
    main()
