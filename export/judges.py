"""The automatic judges of synthesized speech that the field uses (the `[eval]` extra):
word and character error rate through pocketsphinx (en-us), speaker similarity (SECS) as
the cosine of resemblyzer GE2E embeddings, and DNSMOS P.835 through speechmos.

Used by benchmarks/quality.py and by `edgevc export --judge N` (int8 against fp32).
"""

import logging
import re
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
    """The three judges; each is None when its package will not import or load."""

    def __init__(self):
        self.notes = {}
        self.asr = self._load("asr", self._asr)
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
        if self.asr:
            ref, hyp = clean(normalize(text)), clean(self.transcribe(wav))
            rc, hc = " ".join(ref), " ".join(hyp)
            row.update(reference=rc, hypothesis=hc, ref_words=len(ref), word_edits=edits(ref, hyp),
                       ref_chars=len(rc), char_edits=edits(rc, hc))
            row["wer"] = row["word_edits"] / max(1, len(ref))
            row["cer"] = row["char_edits"] / max(1, len(rc))
        if self.dnsmos:
            try:
                r = self.dnsmos.run(np.clip(wav, -1, 1).astype(np.float32), sr=SR)
                row.update({k: float(np.mean(r[k])) for k in MOS_KEYS})
            except Exception as e:
                log.warning("DNSMOS failed on %s: %s", uid, e)
        return row, (self.embed(wav) if self.secs else None)
