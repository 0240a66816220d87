"""The GE2E speaker encoder that the resemblyzer wheel ships: the student's teacher.

Its input is a *power* mel, so its embedding moves with loudness: on held-out readers the
same 3 s segment gives cosine 0.87 between full scale and -10 dB, and 0.69 at -20 dB.
The student sees level-free log-mels and cannot follow that, so the teacher is always
asked about windows brought to one level, TEACHER_LEVEL_DBFS (RMS). That is about where
peak-normalised read speech sits, where earlier targets mostly were.
"""

import numpy as np

from edgevc.audio.params import SPEAKER_MEL, SPEAKER_WINDOW_FRAMES, SPEAKER_WINDOW_HOP

TEACHER_LEVEL_DBFS = -20.0
WINDOW_SAMPLES = SPEAKER_WINDOW_FRAMES * SPEAKER_MEL.hop_length  # 1.6 s


def at_level(wav: np.ndarray, dbfs: float = TEACHER_LEVEL_DBFS) -> np.ndarray:
    """`wav` scaled so that its RMS is `dbfs` (silence stays silence)."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    return (wav * (10 ** (dbfs / 20) / rms)).astype(np.float32) if rms > 1e-7 else wav.astype(np.float32)


def window_starts(n_samples: int) -> list[int]:
    """Sample offsets of the 1.6 s windows (hop 0.8 s) over `n_samples`; at least one."""
    return list(range(0, max(1, n_samples - WINDOW_SAMPLES + 1), SPEAKER_WINDOW_HOP * SPEAKER_MEL.hop_length))


class Teacher:
    """resemblyzer's pretrained GE2E encoder (the `[teacher]` extra)."""

    def __init__(self):
        import torch
        from resemblyzer import VoiceEncoder
        from resemblyzer.audio import wav_to_mel_spectrogram

        self.torch = torch
        self.encoder = VoiceEncoder("cpu", verbose=False)
        self.mel = wav_to_mel_spectrogram

    def embed_windows(self, windows) -> np.ndarray:
        """B audio windows of one length, each brought to TEACHER_LEVEL_DBFS -> (B, 256) unit
        vectors. Windows longer than 1.6 s are read over their first 1.6 s."""
        mels = np.stack([self.mel(at_level(w))[:SPEAKER_WINDOW_FRAMES] for w in windows])
        with self.torch.no_grad():
            return self.encoder(self.torch.from_numpy(mels)).numpy().astype(np.float32)

    def window_embeddings(self, wav: np.ndarray) -> np.ndarray:
        """(n_windows, 256): window k covers 10 ms frames [80k, 80k + 160) of `wav`.
        A shorter `wav` is one shorter window (the LSTM reads any length)."""
        return self.embed_windows([wav[s:s + WINDOW_SAMPLES] for s in window_starts(len(wav))])
