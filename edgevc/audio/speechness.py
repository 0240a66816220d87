"""Is a recording speech? Three measurable signs, so enrollment can refuse noise, tones and
music (the encoder embeds anything, and white noise used to enroll as "5.0 s of speech").

- Voicing: speech is voiced (periodic at a pitch of 60-400 Hz) a good part of the time;
  noise of any colour almost never is. A frame counts as voiced when the minimum of its
  YIN cumulative-mean-normalised difference over those pitch periods is below 0.45.
- Tonality: a steady tone (or a sweep) is voiced all the time, but puts nearly all of a
  frame's power within a few FFT bins of one frequency; speech spreads it over harmonics
  and formants.
- Steadiness: music holds its notes and chords; speech never holds still. Of the pairs of
  judged frames 60 ms apart, the share where the sound stayed put: the same spectrum within
  3 dB (log-spectral distance over the 50 dB below the louder frame's peak) and, where both
  frames have a pitch (YIN's, 65-400 Hz: mains hum at 50/60 Hz is not the voice), the same
  pitch within 1%. Pitch alone does not count: a monotone voice still moves its formants.

Measured here on the 251 LibriSpeech readers' recordings and every 15th recording of four
single-speaker sets (allison, kathleen, philipp, mimic3-rainbow; 399 clips), each trimmed
and peak-normalised as enrollment does: voiced ratio 0.25 or more (1st percentile 0.33),
tonality at most 0.88, steadiness at most 0.16 (99th percentile 0.06; the 0.16 is a reader
with mains hum in the pauses); of 738 more clips of those four sets, one (1 s of spoken
digits, tonality 0.96) is refused. White, pink and brown noise: voiced ratio 0.00. Pure
tones and a sweep: tonality 1.00. Band-limited square and sawtooth waves and chords of
them: steadiness 1.00, a raw (aliased) square wave 0.50; melodies of square, sawtooth or
sine notes of 0.15 s to 0.5 s: 0.41-0.86. The tests' synthetic vowels (a sawtooth gliding
100-140 Hz) and monotone phoneme buzz: at most 0.17. Not measured: singing, which holds
notes too.
"""

from dataclasses import dataclass

import numpy as np

MIN_VOICED_RATIO = 0.1
MAX_TONALITY = 0.95
MAX_STEADINESS = 0.3
_YIN_THRESHOLD = 0.45  # loose: noisy, breathy readers stay voiced; noise stays near 1
_ACTIVE_DB = 30.0  # frames within this many dB of the loudest are judged; pauses are not
_BLOCK = 128  # frames per numpy batch: memory stays flat for long recordings
_STEADY_LAG = 3  # frames (20 ms hop): steadiness compares frames 60 ms apart
_STEADY_PITCH = 0.01  # |ln(f1 / f2)|: 1 %, a sixth of a semitone
_STEADY_LSD_DB = 3.0  # log-spectral distance under which two frames sound the same
_LSD_RANGE_DB = 50.0  # bins further below the louder frame's peak count as this far
_MIN_STEADY_F0 = 65.0  # Hz: mains hum (50/60 Hz) in the pauses is steady, but not a voice


@dataclass(frozen=True)
class SpeechEvidence:
    voiced_ratio: float  # share of active frames that are periodic at a speaking pitch
    tonality: float  # median share of a frame's power within +-2 FFT bins of its peak
    frames: int  # active frames judged; 0 when the clip is too short to judge
    # share of active frame pairs 60 ms apart that hold the same spectrum (and pitch)
    steadiness: float = 0.0

    def problem(self) -> str | None:
        """Why this does not sound like speech, or None when it does (or cannot tell)."""
        if self.frames == 0:
            return None
        if self.tonality >= MAX_TONALITY:
            return (f"sounds like a steady tone, not speech ({self.tonality:.0%} of its power "
                    f"at one pitch; speech stays below {MAX_TONALITY:.0%})")
        if self.steadiness >= MAX_STEADINESS:
            return (f"sounds like music or a held note, not speech (its sound holds still "
                    f"{self.steadiness:.0%} of the time; speech stays below "
                    f"{MAX_STEADINESS:.0%})")
        if self.voiced_ratio < MIN_VOICED_RATIO:
            return (f"sounds like noise, not speech (voiced {self.voiced_ratio:.0%} of the "
                    f"time; speech is voiced at least {MIN_VOICED_RATIO:.0%})")
        return None


def speech_evidence(wav: np.ndarray, sr: int = 16000) -> SpeechEvidence:
    """Voicing, tonality and steadiness of `wav` (mono float, at `sr`), over its louder
    frames."""
    W, hop = int(0.04 * sr), int(0.02 * sr)  # 40 ms frames every 20 ms
    tmin, tmax = sr // 400, sr // 60  # pitch periods from 400 Hz down to 60 Hz
    n = (len(wav) - W - tmax) // hop + 1
    if n < 1:
        return SpeechEvidence(0.0, 0.0, 0)
    x = np.asarray(wav, np.float64)
    x = x - x.mean()  # a DC offset is neither a tone nor a voice
    energy = np.array([np.mean(x[s:s + W] ** 2) for s in np.arange(n) * hop])
    db = 10 * np.log10(energy + 1e-12)
    active = np.flatnonzero(db > db.max() - _ACTIVE_DB)  # frame numbers, ascending
    voiced, tonal = [], []
    steady = pairs = 0
    # the last _STEADY_LAG frames' (numbers, pitch or NaN, log spectra), for pairs that
    # straddle two blocks
    tail = (np.zeros(0, int), np.zeros(0), np.zeros((0, W // 2 + 1)))
    for i in range(0, len(active), _BLOCK):
        idx = active[i:i + _BLOCK]
        frames = np.stack([x[s:s + W + tmax] for s in idx * hop])
        best, lag = _yin(frames, W, tmin, tmax)
        is_voiced = best < _YIN_THRESHOLD
        voiced.append(is_voiced)
        f0 = np.where(is_voiced, sr / lag, np.nan)
        f0[f0 < _MIN_STEADY_F0] = np.nan
        power = _power_spectra(frames[:, :W])
        tonal.append(_peak_share(power, int(60 * W / sr)))
        log_power = 10 * np.log10(power + 1e-20)
        idx_all = np.concatenate([tail[0], idx])
        f0_all = np.concatenate([tail[1], f0])
        lp_all = np.concatenate([tail[2], log_power])
        # pairs (k, k + lag) whose later frame is in this block
        later = np.arange(len(tail[0]), len(idx_all))
        earlier = np.searchsorted(idx_all, idx_all[later] - _STEADY_LAG)
        found = (earlier < len(idx_all))
        found[found] = idx_all[earlier[found]] == idx_all[later[found]] - _STEADY_LAG
        a, b = earlier[found], later[found]
        with np.errstate(invalid="ignore"):  # NaN (no pitch): the spectrum decides
            pitch_moved = np.abs(np.log(f0_all[b] / f0_all[a])) >= _STEADY_PITCH
        same_spectrum = _log_spectral_distance(lp_all[a], lp_all[b]) < _STEADY_LSD_DB
        steady += int(np.count_nonzero(same_spectrum & ~pitch_moved))
        pairs += len(a)
        keep = idx_all > idx_all[-1] - _STEADY_LAG
        tail = (idx_all[keep], f0_all[keep], lp_all[keep])
    return SpeechEvidence(float(np.mean(np.concatenate(voiced))),
                          float(np.median(np.concatenate(tonal))), len(active),
                          steady / pairs if pairs else 0.0)


def _yin(frames: np.ndarray, W: int, tmin: int, tmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the minimum over lags tmin..tmax of YIN's cumulative-mean-normalised
    difference d'(tau) of the first W samples against the frame shifted by tau, and the
    pitch period (in samples, fractional): the first dip within 0.1 of that minimum, at
    its bottom, refined by a parabola (the first, so a steady pitch is not read as its
    octave below in one frame and not in the next)."""
    L = 2 * frames.shape[1]
    # r[tau] = sum_{j<W} x[j] x[j+tau], by FFT
    r = np.fft.irfft(np.fft.rfft(frames[:, :W], L).conj() * np.fft.rfft(frames, L), L)
    c = np.cumsum(frames ** 2, axis=1)
    taus = np.arange(1, tmax + 1)
    d = c[:, W - 1:W] + (c[:, taus + W - 1] - c[:, taus - 1]) - 2 * r[:, taus]
    cmnd = (d * taus / np.maximum(np.cumsum(d, axis=1), 1e-12))[:, tmin - 1:]  # tau >= tmin
    best = cmnd.min(axis=1)
    cols = np.arange(cmnd.shape[1])
    first = np.argmax(cmnd < best[:, None] + 0.1, axis=1)
    bottom = np.concatenate([cmnd[:, 1:] >= cmnd[:, :-1], np.ones((len(cmnd), 1), bool)], axis=1)
    j = np.argmax(bottom & (cols >= first[:, None]), axis=1)
    rows = np.arange(len(cmnd))
    a = cmnd[rows, np.maximum(j - 1, 0)]
    b = cmnd[rows, j]
    e = cmnd[rows, np.minimum(j + 1, cmnd.shape[1] - 1)]
    curve = a - 2 * b + e
    inner = (j > 0) & (j < cmnd.shape[1] - 1) & (curve > 0)
    shift = np.where(inner, 0.5 * (a - e) / np.where(inner, curve, 1.0), 0.0)
    return best, tmin + j + shift


def _power_spectra(frames: np.ndarray) -> np.ndarray:
    """Per frame, the power spectrum of the Hann-windowed frame less its mean."""
    frames = frames - frames.mean(axis=1, keepdims=True)
    return np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1)) ** 2


def _peak_share(power: np.ndarray, low: int) -> np.ndarray:
    """Per frame, the share of its power within +-2 bins of its peak, over bins from `low`
    up: rumble and drift below 60 Hz are not a tone."""
    p = power[:, low:]
    k = p.argmax(axis=1)
    padded = np.pad(p, ((0, 0), (2, 2)))
    rows = np.arange(len(k))
    near = sum(padded[rows, k + 2 + o] for o in range(-2, 3))
    return near / np.maximum(p.sum(axis=1), 1e-20)


def _log_spectral_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, the RMS difference in dB of two log power spectra, each floored at
    _LSD_RANGE_DB below the louder one's peak (so silence-level bins do not count)."""
    floor = np.maximum(a.max(axis=1), b.max(axis=1))[:, None] - _LSD_RANGE_DB
    return np.sqrt(np.mean((np.maximum(a, floor) - np.maximum(b, floor)) ** 2, axis=1))
