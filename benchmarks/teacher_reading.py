"""How the teacher reads: Kokoro-82M given the text (through espeak-ng) or edgevc's phonemes.

    python -m benchmarks.teacher_reading --voices kokoro-js-1.2.1.tgz --arctic 20 \
        --readings normtext,frontend --name teacher_reading_s14

For the kiosk sentences (benchmarks/sentences.txt) and the first N held-out ARCTIC sentences,
one voice speaks each sentence in every reading; Whisper base and DNSMOS judge them:

- text: the text as typed, phonemized by espeak-ng (kokoro-onnx's own way);
- normtext: edgevc's normalizer first, then espeak-ng: how corpora were made until session 14;
- frontend: the IPA of edgevc's front end, function words unstressed (teacher_corpus
  --reading frontend, export/teacher_phonemes.py); frontend-stressed keeps the CMU
  dictionary's stress on them; frontend-misaki and frontend-misaki-stressed write the same
  phonemes in Kokoro's own G2P spelling.

`--diff N` also counts, over N utterances of a teacher corpus manifest, the words espeak-ng
pronounces otherwise than edgevc's front end (stress, length marks and the allophones
espeak writes that our symbols leave to the voice not counted). Needs the host toolchain's
teacher extra and the eval extra.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
from pathlib import Path

import numpy as np

from benchmarks.machine import command, cpu_name

log = logging.getLogger("teacher_reading")
READINGS = ("text", "normtext", "frontend", "frontend-stressed", "frontend-misaki",
            "frontend-misaki-stressed")
HERE = Path(__file__).parent


def _sentences(path: Path) -> list[str]:
    return [s.strip() for s in path.read_text(encoding="utf-8").splitlines()
            if s.strip() and not s.startswith("#")]


def _speak(teacher, style, front, reading: str, text: str) -> np.ndarray:
    from edgevc.export.teacher_phonemes import speech_ipa
    from edgevc.text.normalize import normalize
    if reading == "text":
        return teacher.speak(text, style)
    if reading == "normtext":
        return teacher.speak(normalize(text), style)
    spelling = "misaki" if "misaki" in reading else "espeak"
    ipa = " ".join(speech_ipa(s.text, front.lexicon, None, spelling,
                              destress=not reading.endswith("stressed"))[0]
                   for s in front.sentences(text))
    return teacher.speak_phonemes(ipa, style)


def judge_readings(voices: Path, voice: str, readings: list[str], sentences: list[str]) -> dict:
    from edgevc.export.judges import Judges
    from edgevc.export.kokoro_teacher import KokoroTeacher, load_voices
    from edgevc.text import Lexicon, TextFrontEnd
    style = load_voices(voices)[voice]
    teacher = KokoroTeacher()
    front = TextFrontEnd(Lexicon.from_cmudict())  # as prepare phonemizes the corpus
    judges = Judges(pocketsphinx=False)
    judges.secs = None
    out = {}
    for reading in readings:
        rows = []
        for i, text in enumerate(sentences):
            row, _ = judges.judge(f"{reading}-{i}", text, _speak(teacher, style, front, reading, text))
            rows.append(row)
        edits, words = sum(r["word_edits"] for r in rows), sum(r["ref_words"] for r in rows)
        mos = [r["ovrl_mos"] for r in rows if r.get("ovrl_mos") is not None]
        out[reading] = {"wer": edits / words, "word_edits": edits, "ref_words": words,
                        "dnsmos_ovrl": float(np.mean(mos)) if mos else None, "rows": rows}
        log.info("%s: WER %.1f%% (%d/%d), DNSMOS %.2f", reading, 100 * edits / words, edits,
                 words, out[reading]["dnsmos_ovrl"] or float("nan"))
    return out


_MARKS = re.compile(r"[ˈˌː,.?!;:—…\"()“”]")


def _canon(word: str) -> str:
    w = _MARKS.sub("", word)
    for a, b in (("ɾ", "t"), ("ᵻ", "ɪ"), ("ɐ", "ə"), ("ɜ", "ɚ")):
        w = w.replace(a, b)
    return w


def pronunciation_diff(manifest: Path, n: int) -> dict:
    """Words of `n` corpus texts (shuffled, seed 0) that espeak-ng says otherwise than the
    front end; utterances whose word counts differ are left out."""
    from kokoro_onnx.tokenizer import Tokenizer

    from edgevc.export.teacher_phonemes import speech_ipa
    from edgevc.text import Lexicon, TextFrontEnd
    from edgevc.text.normalize import normalize
    tok, front = Tokenizer(), TextFrontEnd(Lexicon.from_cmudict())
    texts = [json.loads(line)["text"] for line in manifest.read_text(encoding="utf-8").splitlines()]
    random.Random(0).shuffle(texts)
    same = differ = used = 0
    examples = []
    for text in texts[:n]:
        ours = " ".join(speech_ipa(s.text, front.lexicon, None, destress=False)[0]
                        for s in front.sentences(text)).split()
        theirs = tok.phonemize(normalize(text), "en-us").split()
        if len(ours) != len(theirs):
            continue
        used += 1
        for a, b in zip(ours, theirs):
            if _canon(a) == _canon(b):
                same += 1
            else:
                differ += 1
                if len(examples) < 12:
                    examples.append([a, b])
    return {"utterances": used, "words": same + differ, "differ": differ,
            "share": differ / max(1, same + differ), "examples": examples}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voices", type=Path, required=True, help="kokoro-js-1.2.1.tgz or a folder of voices/*.bin")
    ap.add_argument("--voice", default="af_heart")
    ap.add_argument("--readings", default="normtext,frontend",
                    help=f"comma-separated, of: {', '.join(READINGS)}")
    ap.add_argument("--arctic", type=int, default=20, help="held-out ARCTIC sentences after the kiosk ones")
    ap.add_argument("--diff", type=int, default=0, metavar="N", help="also count pronunciation "
                    "differences over N texts of --manifest")
    ap.add_argument("--manifest", type=Path, help="a teacher corpus manifest.jsonl (for --diff)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--name", default="teacher_reading")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    readings = [r for r in args.readings.split(",") if r]
    bad = [r for r in readings if r not in READINGS]
    if bad:
        ap.error(f"--readings: unknown {', '.join(bad)} (one of {', '.join(READINGS)})")
    if args.diff and not args.manifest:
        ap.error("--diff needs --manifest")
    sentences = _sentences(HERE / "sentences.txt") + _sentences(HERE / "sentences_heldout_arctic.txt")[:args.arctic]
    result = {"command": command("teacher_reading", argv), "cpu": cpu_name(), "voice": args.voice,
              "sentences": len(sentences),
              "readings": judge_readings(args.voices, args.voice, readings, sentences) if readings else {}}
    if args.diff:
        result["pronunciation_diff"] = pronunciation_diff(args.manifest, args.diff)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    lines = [f"# How the teacher reads ({args.voice})", "", f"`{result['command']}` on {result['cpu']}; "
             f"{len(sentences)} sentences (kiosk + {args.arctic} held-out ARCTIC), Whisper base int8, DNSMOS P.835.",
             "", "| reading | Whisper WER | DNSMOS OVRL |", "|---|---|---|"]
    for r, v in result["readings"].items():
        mos = "–" if v["dnsmos_ovrl"] is None else f"{v['dnsmos_ovrl']:.2f}"
        lines.append(f"| {r} | {100 * v['wer']:.1f}% ({v['word_edits']}/{v['ref_words']}) | {mos} |")
    if args.diff:
        d = result["pronunciation_diff"]
        lines += ["", f"Words espeak-ng pronounces otherwise than edgevc's front end: {d['differ']} of "
                  f"{d['words']} ({100 * d['share']:.1f}%) over {d['utterances']} corpus texts; e.g. "
                  + ", ".join(f"{a} / {b}" for a, b in d["examples"][:8]) + " (ours / espeak-ng)."]
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
