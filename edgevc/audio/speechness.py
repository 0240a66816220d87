"""Is a recording speech? Two measurable signs, so enrollment can refuse noise and tones
(the encoder embeds anything, and white noise used to enroll as "5.0 s of speech").

- Voicing: speech is voiced (periodic at a pitch of 60-400 Hz) a good part of the time;
  noise of any colour almost never is. A frame counts as voiced when the minimum of its
  YIN cumulative-mean-normalised difference over those pitch periods is below 0.45.
- Tonality: a steady tone (or a sweep) is voiced all the time, but puts nearly all of a
  frame's power within a few FFT bins of one frequency; speech spreads it over harmonics
  and formants.

Measured here on the 251 LibriSpeech readers' recordings, each trimmed as enrollment
trims: voiced ratio 0.25 or more (1st percentile 0.33), tonality at most 0.80. White, pink
and brown noise: voiced ratio 0.00. Pure tones and a sweep: tonality 1.00. A square-wave
buzz (tonality 0.81) still passes: it is periodic with harmonics, as vowels are.
"""

from dataclasses import dataclass

import numpy as np

MIN_VOICED_RATIO = 0.1
MAX_TONALITY = 0.95
_YIN_THRESHOLD = 0.45  # loose: noisy, breathy readers stay voiced; noise stays near 1
_ACTIVE_DB = 30.0  # frames within this many dB of the loudest are judged; pauses are not
_BLOCK = 128  # frames per numpy batch: memory stays flat for long recordings


@dataclass(frozen=True)
class SpeechEvidence:
    voiced_ratio: float  # share of active frames that are periodic at a speaking pitch
    tonality: float  # median share of a frame's power within +-2 FFT bins of its peak
    frames: int  # active frames judged; 0 when the clip is too short to judge

    def problem(self) -> str | None:
        """Why this does not sound like speech, or None when it does (or cannot tell)."""
        if self.frames == 0:
            return None
        if self.tonality >= MAX_TONALITY:
            return (f"sounds like a steady tone, not speech ({self.tonality:.0%} of its power "
                    f"at one pitch; speech stays below {MAX_TONALITY:.0%})")
        if self.voiced_ratio < MIN_VOICED_RATIO:
            return (f"sounds like noise, not speech (voiced {self.voiced_ratio:.0%} of the "
                    f"time; speech is voiced at least {MIN_VOICED_RATIO:.0%})")
        return None


def speech_evidence(wav: np.ndarray, sr: int = 16000) -> SpeechEvidence:
    """Voicing and tonality of `wav` (mono float, at `sr`), over its louder frames."""
    W, hop = int(0.04 * sr), int(0.02 * sr)  # 40 ms frames every 20 ms
    tmin, tmax = sr // 400, sr // 60  # pitch periods from 400 Hz down to 60 Hz
    n = (len(wav) - W - tmax) // hop + 1
    if n < 1:
        return SpeechEvidence(0.0, 0.0, 0)
    x = np.asarray(wav, np.float64)
    x = x - x.mean()  # a DC offset is neither a tone nor a voice
    starts = np.arange(n) * hop
    energy = np.array([np.mean(x[s:s + W] ** 2) for s in starts])
    db = 10 * np.log10(energy + 1e-12)
    starts = starts[db > db.max() - _ACTIVE_DB]
    voiced, tonal = [], []
    for i in range(0, len(starts), _BLOCK):
        frames = np.stack([x[s:s + W + tmax] for s in starts[i:i + _BLOCK]])
        voiced.append(_yin_minimum(frames, W, tmin, tmax) < _YIN_THRESHOLD)
        tonal.append(_peak_share(frames[:, :W], int(60 * W / sr)))
    return SpeechEvidence(float(np.mean(np.concatenate(voiced))),
                          float(np.median(np.concatenate(tonal))), len(starts))


def _yin_minimum(frames: np.ndarray, W: int, tmin: int, tmax: int) -> np.ndarray:
    """Per frame, the minimum over lags tmin..tmax of YIN's cumulative-mean-normalised
    difference d'(tau) of the first W samples against the frame shifted by tau."""
    L = 2 * frames.shape[1]
    # r[tau] = sum_{j<W} x[j] x[j+tau], by FFT
    r = np.fft.irfft(np.fft.rfft(frames[:, :W], L).conj() * np.fft.rfft(frames, L), L)
    c = np.cumsum(frames ** 2, axis=1)
    taus = np.arange(1, tmax + 1)
    d = c[:, W - 1:W] + (c[:, taus + W - 1] - c[:, taus - 1]) - 2 * r[:, taus]
    cmnd = d * taus / np.maximum(np.cumsum(d, axis=1), 1e-12)
    return cmnd[:, tmin - 1:].min(axis=1)


def _peak_share(frames: np.ndarray, low: int) -> np.ndarray:
    """Per frame, the share of its (Hann-windowed) power within +-2 bins of its peak, over
    bins from `low` up: rumble and drift below 60 Hz are not a tone."""
    frames = frames - frames.mean(axis=1, keepdims=True)
    p = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1))[:, low:] ** 2
    k = p.argmax(axis=1)
    padded = np.pad(p, ((0, 0), (2, 2)))
    rows = np.arange(len(k))
    near = sum(padded[rows, k + 2 + o] for o in range(-2, 3))
    return near / np.maximum(p.sum(axis=1), 1e-20)
