"""Frame-level pitch for training targets: a vectorised YIN estimate in numpy.

One value per synthesis frame (hop 256 at 16 kHz): log-F0 where voiced, 0 where not.
Accurate enough to condition the acoustic model (octave errors are rare on clean read
speech; a 3-frame median removes most), and needs no extra dependency.
"""

import numpy as np

from edgevc.audio.params import SYNTH_MEL


def _frames(wav: np.ndarray, size: int, hop: int, n: int) -> np.ndarray:
    pad = np.pad(wav, (size // 2, size // 2 + hop))
    idx = np.arange(size)[None, :] + hop * np.arange(n)[:, None]
    return pad[idx]


def yin_log_f0(wav: np.ndarray, n_frames: int, sr: int = SYNTH_MEL.sample_rate,
               hop: int = SYNTH_MEL.hop_length, fmin: float = 65.0, fmax: float = 500.0,
               threshold: float = 0.2, voiced_max: float = 0.35) -> np.ndarray:
    """(n_frames,) float32: natural log of F0 in Hz for voiced frames, else 0."""
    tau_max = int(sr / fmin) + 1
    tau_min = int(sr / fmax)
    w = tau_max  # integration window: one period of the lowest pitch
    fr = _frames(wav.astype(np.float32), w + tau_max, hop, n_frames)
    # difference function d(tau) = sum_j (x_j - x_{j+tau})^2 over j < w, via FFT
    n_fft = 1 << int(np.ceil(np.log2(2 * (w + tau_max))))
    spec_full = np.fft.rfft(fr, n_fft)
    spec_head = np.fft.rfft(fr[:, :w], n_fft)
    corr = np.fft.irfft(np.conj(spec_head) * spec_full, n_fft)[:, : tau_max + 1]
    sq = np.cumsum(np.pad(fr * fr, ((0, 0), (1, 0))), axis=1)
    e0 = sq[:, w][:, None]
    taus = np.arange(tau_max + 1)
    e_tau = sq[:, taus + w] - sq[:, taus]
    d = np.maximum(e0 + e_tau - 2 * corr, 0)
    # cumulative mean normalised difference
    cum = np.cumsum(d[:, 1:], axis=1)
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)
    band = cmnd[:, tau_min:tau_max]
    below = band < threshold
    # first dip under the threshold (then its local minimum), else the global minimum
    first = np.where(below.any(1), below.argmax(1), band.argmin(1))
    t = first.copy()
    rows = np.arange(len(t))
    while True:  # walk down to the bottom of the dip
        nxt = np.minimum(t + 1, band.shape[1] - 1)
        step = band[rows, nxt] < band[rows, t]
        if not step.any():
            break
        t = np.where(step, nxt, t)
    best = band[rows, t]
    # parabolic refinement of the lag
    lo = band[rows, np.maximum(t - 1, 0)]
    hi = band[rows, np.minimum(t + 1, band.shape[1] - 1)]
    den = lo - 2 * best + hi
    shift = np.where(np.abs(den) > 1e-9, 0.5 * (lo - hi) / np.where(den == 0, 1, den), 0.0)
    lag = tau_min + t + np.clip(shift, -1, 1)
    energy = e0[:, 0] / w
    loud = energy > 1e-4 * max(energy.max(), 1e-12)
    voiced = (best < voiced_max) & loud
    f0 = np.where(voiced, np.log(sr / lag), 0.0)
    # 3-frame median over voiced runs removes isolated octave jumps
    padded = np.pad(f0, 1, mode="edge")
    med = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    f0 = np.where(voiced & (med > 0), med, f0)
    return f0.astype(np.float32)


def phoneme_average(frame_values: np.ndarray, durations: np.ndarray,
                    voiced_only: bool = False) -> np.ndarray:
    """Mean of a frame-level track over each phoneme's frames; with `voiced_only`, over its
    non-zero frames (0 when it has none)."""
    ends = np.cumsum(durations)
    starts = ends - durations
    out = np.zeros(len(durations), np.float32)
    for k, (s, e) in enumerate(zip(starts, ends)):
        seg = frame_values[s:e]
        if voiced_only:
            seg = seg[seg > 0]
        if len(seg):
            out[k] = seg.mean()
    return out
