"""Transcripts for speech that has none (or none to trust), by the Whisper judge, kept only
where Whisper is confident: more real speakers for the acoustic model.

    python -m edgevc.export.transcribe --corpus ../shared/data/speech/librispeech-251 -o libri_text
    python -m edgevc.export.transcribe --corpus speechocean762 --agree 0.1 -o so762_text

Writes OUT/SPEAKER/UTT.txt beside a link to the audio (the plain speaker-folder layout
`prepare --corpus` reads) for every kept utterance, and OUT/transcripts.jsonl with every
utterance: Whisper's text, its mean log-probability and no-speech probability, and why it
was dropped. Held-out speakers and sentences are never written.

Filters:
- confidence: mean token log-probability >= --min-logprob and no-speech probability
  <= --max-no-speech (Whisper's own measures of how sure it is);
- `--agree W`, for a corpus whose text says what was *meant* (speechocean762's prompts,
  often mispronounced): keep an utterance only when Whisper's transcript is within word
  error W of that text, and keep the given text. The summary reports the word error of
  the kept transcripts against the given text: the error rate the filter lets through.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from edgevc.errors import InputError

log = logging.getLogger(__name__)


def decide(heard: dict, given: str | None, words, agree: float | None,
           min_logprob: float, max_no_speech: float) -> tuple[str | None, str | None, float | None]:
    """(text to keep or None, reason dropped or None, WER of Whisper against `given`)."""
    from edgevc.export.judges import score_words

    wer = score_words(words(given), words(heard["text"]))["wer"] if given else None
    if not heard["text"].strip():
        return None, "nothing heard", wer
    if heard["avg_logprob"] is None or heard["avg_logprob"] < min_logprob:
        return None, f"log-probability {heard['avg_logprob']}", wer
    if heard["no_speech_prob"] is not None and heard["no_speech_prob"] > max_no_speech:
        return None, f"no-speech probability {heard['no_speech_prob']:.2f}", wer
    if agree is not None:
        if given is None:
            return None, "no given text to agree with", wer
        if wer is not None and wer > agree:
            return None, f"disagrees with the given text (WER {wer:.2f})", wer
        return given, None, wer
    return heard["text"].strip(), None, wer


def link(src: Path, dst: Path) -> None:
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(src.resolve(), dst)


def run(args) -> dict:
    from tqdm import tqdm

    from edgevc.audio.io import load_audio
    from edgevc.export.corpus import read_corpus
    from edgevc.export.heldout import HeldOut
    from edgevc.export.judges import WhisperASR

    try:
        utts = read_corpus(args.corpus, require_text=False)
    except FileNotFoundError as e:
        raise InputError(str(e)) from None
    held = HeldOut.load()
    # Held-out speakers are not even heard; held-out sentences are heard (they measure the
    # filter) but never written.
    utts = [u for u in utts if u.speaker not in held.speakers]
    if args.limit:
        utts = utts[:args.limit]
    if not utts:
        raise InputError(f"--corpus {args.corpus}: no utterances")
    asr = WhisperASR(args.asr_model, threads=args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    done = {}
    report = args.out / "transcripts.jsonl"
    if report.exists():  # resume: what was decided stays decided
        for line in report.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
                done[r["id"]] = r
            except (json.JSONDecodeError, KeyError):
                continue
    with open(report, "a", encoding="utf-8") as f:
        for u in tqdm(utts, desc="transcribe", unit="utt"):
            if u.id in done:
                continue
            heard = asr.transcribe(load_audio(u.audio))
            text, why, wer = decide(heard, u.text, asr.words, args.agree, args.min_logprob, args.max_no_speech)
            rec = {"id": u.id, "speaker": u.speaker, "audio": str(u.audio), "given": u.text,
                   "heard": heard["text"], "avg_logprob": heard["avg_logprob"],
                   "no_speech_prob": heard["no_speech_prob"], "wer_vs_given": wer,
                   "kept": text is not None, "text": text, "dropped": why}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            done[u.id] = rec
    for rec in done.values():
        if rec["kept"] and not held.holds(rec["speaker"], rec["text"]):
            folder = args.out / rec["speaker"]
            folder.mkdir(exist_ok=True)
            stem = Path(rec["id"]).name
            audio = Path(rec["audio"])
            link(audio, folder / (stem + audio.suffix.lower()))
            (folder / f"{stem}.txt").write_text(rec["text"] + "\n", encoding="utf-8")
    return summary(list(done.values()))


def summary(recs: list[dict]) -> dict:
    kept = [r for r in recs if r["kept"]]
    out = {"utterances": len(recs), "kept": len(kept), "speakers_kept": len({r["speaker"] for r in kept})}
    for name, group in (("all", recs), ("kept", kept)):
        w = [r["wer_vs_given"] for r in group if r["wer_vs_given"] is not None]
        if w:
            out[f"mean_wer_vs_given_{name}"] = round(sum(w) / len(w), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgevc.export.transcribe", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="any layout prepare reads, text or not")
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--min-logprob", type=float, default=-0.5,
                    help="keep when Whisper's mean token log-probability is at least this (default -0.5)")
    ap.add_argument("--max-no-speech", type=float, default=0.3, help="default 0.3")
    ap.add_argument("--agree", type=float, metavar="W",
                    help="keep the given text where Whisper agrees within word error W")
    ap.add_argument("--asr-model", type=Path, help="a faster-whisper model folder")
    ap.add_argument("--limit", type=int, help="only the first N utterances")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        print(json.dumps(run(args)))
    except InputError as e:
        print(f"transcribe: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
