"""Log-mel features in numpy. The training code builds its torch features from the same
filterbank, so what the runtime computes is what the models were trained on."""

from functools import lru_cache
from typing import Literal

import numpy as np

from edgevc.audio.params import MelParams

LOG_FLOOR = 1e-5


def _hz_to_mel(f):
    # Slaney's scale: linear below 1 kHz, logarithmic above.
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    lin = m * (200.0 / 3)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log, lin)


@lru_cache(maxsize=8)
def mel_filterbank(params: MelParams) -> np.ndarray:
    """Triangular, area-normalised filters, shape (n_mels, n_fft // 2 + 1)."""
    n_bins = params.n_fft // 2 + 1
    fft_freqs = np.linspace(0, params.sample_rate / 2, n_bins)
    mel_pts = np.linspace(_hz_to_mel(params.fmin), _hz_to_mel(params.fmax), params.n_mels + 2)
    hz_pts = _mel_to_hz(mel_pts)
    fb = np.zeros((params.n_mels, n_bins))
    for i in range(params.n_mels):
        lo, ce, hi = hz_pts[i], hz_pts[i + 1], hz_pts[i + 2]
        up = (fft_freqs - lo) / (ce - lo)
        down = (hi - fft_freqs) / (hi - ce)
        fb[i] = np.maximum(0.0, np.minimum(up, down)) * (2.0 / (hi - lo))
    fb.setflags(write=False)
    return fb.astype(np.float32)


@lru_cache(maxsize=8)
def analysis_window(params: MelParams) -> np.ndarray:
    """Periodic Hann of win_length, zero-padded to n_fft (centred)."""
    n = params.win_length
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    pad = params.n_fft - n
    w = np.pad(w, (pad // 2, pad - pad // 2))
    return w.astype(np.float32)


def stft(wav: np.ndarray, params: MelParams) -> np.ndarray:
    """Complex STFT, shape (frames, n_fft // 2 + 1); frames = len(wav) // hop + 1 (centred)."""
    wav = np.asarray(wav, dtype=np.float32)
    half = params.n_fft // 2
    mode: Literal["reflect", "constant"] = "reflect" if len(wav) > half else "constant"
    padded = np.pad(wav, (half, half), mode=mode)
    n_frames = 1 + (len(padded) - params.n_fft) // params.hop_length
    idx = np.arange(params.n_fft)[None, :] + params.hop_length * np.arange(n_frames)[:, None]
    return np.fft.rfft(padded[idx] * analysis_window(params), axis=1)


def stft_magnitude(wav: np.ndarray, params: MelParams) -> np.ndarray:
    """|STFT|, shape (frames, n_fft // 2 + 1)."""
    return np.abs(stft(wav, params)).astype(np.float32)


def log_mel(wav: np.ndarray, params: MelParams) -> np.ndarray:
    """Natural-log mel spectrogram, shape (frames, n_mels), float32."""
    mag = stft_magnitude(wav, params)
    mel = mag @ mel_filterbank(params).T
    return np.log(np.maximum(mel, LOG_FLOOR)).astype(np.float32)
