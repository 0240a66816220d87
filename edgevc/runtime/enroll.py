"""Enrollment: recordings -> speaker embedding (the mean of windowed encoder outputs)."""

import logging
from pathlib import Path

import numpy as np

from edgevc.audio.features import log_mel
from edgevc.audio.io import load_audio
from edgevc.audio.processing import normalize_peak, voiced_span
from edgevc.audio.speechness import speech_evidence
from edgevc.errors import InputError
from edgevc.runtime.backends import create_session
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.profiles import DeviceProfile

log = logging.getLogger(__name__)
MIN_SPEECH_SECONDS = 1.0
# 3-10 s of speech is what enrollment needs; a 10-minute file is already 38 MB as float32
# (an hour was read whole before any check).
MAX_FILE_SECONDS = 600


class Enroller:
    def __init__(self, bundle: Bundle, profile: DeviceProfile):
        self.bundle = bundle
        entry = bundle.models["speaker_encoder"]
        # the encoder's bytes as checked against its hash, never the path again
        self.session = create_session(entry.read(), profile.backends, profile.threads,
                                      tflite=entry.tflite_model(profile.precision),
                                      name=str(entry.path))

    def windows(self, wav: np.ndarray) -> np.ndarray:
        """1.6 s log-mel windows hopped by 0.8 s; a shorter clip is one window."""
        b = self.bundle
        mel = log_mel(wav, b.speaker_mel)
        W, H = b.window_frames, b.window_hop
        if len(mel) <= W:
            return mel[None]
        return np.stack([mel[s:s + W] for s in range(0, len(mel) - W + 1, H)])

    def embed_wav(self, wav: np.ndarray) -> np.ndarray:
        """Window embeddings (n, dim) of one clip."""
        out = []
        wins = self.windows(wav)
        for i in range(0, len(wins), 32):  # bounded batch: flat memory for long recordings
            out.append(self.session.run({"mel": np.ascontiguousarray(wins[i:i + 32])})[0])
        return np.concatenate(out)

    def enroll(self, paths: list[str | Path]) -> tuple[np.ndarray, dict]:
        if not paths:
            raise InputError("enroll needs at least one audio file")
        sr = self.bundle.sample_rate
        embs, seconds = [], 0.0
        for path in paths:
            wav = load_audio(path, sr, max_seconds=MAX_FILE_SECONDS)
            span = voiced_span(wav)
            if span is None:
                raise InputError(f"audio file {path}: no speech found (silent or too quiet)")
            wav = normalize_peak(wav[span[0]:span[1]])
            problem = speech_evidence(wav, sr).problem()
            if problem:  # the encoder would embed it all the same
                raise InputError(f"audio file {path}: {problem}")
            seconds += len(wav) / sr
            embs.append(self.embed_wav(wav))
        if seconds < MIN_SPEECH_SECONDS:
            raise InputError(f"enroll: only {seconds:.1f} s of speech in {len(paths)} file(s); "
                             f"need at least {MIN_SPEECH_SECONDS:.0f} s (3-10 s works best)")
        e = np.concatenate(embs).mean(axis=0)
        e = (e / np.linalg.norm(e)).astype(np.float32)
        info = {"sources": [str(p) for p in paths], "speech_seconds": round(seconds, 2),
                "encoder_sha256": self.bundle.speaker_encoder_sha256,
                "edgevc_version": self.bundle.manifest.get("edgevc_version")}
        return e, info
