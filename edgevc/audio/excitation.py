"""Phase for the vocoder's magnitudes from a synthetic excitation, as a source-filter
vocoder would have it.

The vocoder predicts magnitude and phase per frame. Trained without adversarial losses,
its phase is the weak half: on real mels it scores DNSMOS 2.36 with its own phase and 2.85
with the recording's (benchmarks/results/copy_synthesis.md). This stage keeps the
magnitude and takes the phase from the STFT of one continuous excitation signal made to
match it: a band-limited pulse train at the frame's F0 where the frame is voiced, white
noise where it is not. Frames of one real signal overlap consistently, and the harmonics
of a pulse train keep their phase relations from frame to frame: what the vocoder's own
phase lacks.

F0 comes from the magnitude itself (cepstral peak, then a 3-frame median), so it always
agrees with where the magnitude puts its harmonics; voicing is a logistic model over the
magnitude's log-mel, its cepstral peak and its share of energy below 1 kHz
(export/train_voicing.py fits it; the bundle carries it).

What it buys, measured (benchmarks/results/copy_synthesis.md, quality_excitation.md):
DNSMOS rises (real mels 2.35 -> 2.73, synthesized speech 2.34 -> 2.53) but the recognizer
loses words (WER 28.2% -> 32.9% and 35.5% -> 51.1%), consonants above all; so bundles
keep the vocoder's phase by default.

The hybrid (band_hz, the bundles' phase method "hybrid") takes the excitation's phase only
where the harmonics are: clearly voiced frames (HYBRID_MARGIN), bins below band_hz.
Everywhere else the vocoder's own phase stays, so unvoiced consonants keep their bursts and
noise. See the README for what it measures.

Streaming: frame t's window reads excitation up to sample (t + 2) * hop, which needs F0 at
frame t + 2, itself a median over t + 3; so output lags input by LOOKAHEAD frames and
finish() flushes them. The same frames give the same output however they are chunked.
"""

import numpy as np

from edgevc.audio.features import analysis_window, mel_filterbank
from edgevc.audio.params import MelParams

# The model and the hybrid's settings live with the bundle's data; importers of this module
# still find them here.
from edgevc.audio.voicing import HYBRID_BAND_HZ, HYBRID_MARGIN, VoicingModel

__all__ = ["F0_MAX", "F0_MIN", "HYBRID_BAND_HZ", "HYBRID_MARGIN", "LOG_FLOOR", "LOOKAHEAD",
           "LOW_BAND_HZ", "ExcitationPhase", "VoicingModel", "cepstral_f0", "voicing_features"]

LOOKAHEAD = 3
F0_MIN, F0_MAX = 65.0, 450.0
LOW_BAND_HZ = 1000.0
LOG_FLOOR = 1e-4


def cepstral_f0(mag: np.ndarray, params: MelParams) -> tuple[np.ndarray, np.ndarray]:
    """Magnitudes (k, n_fft/2+1) -> F0 in Hz and the cepstral peak height, per frame: the
    peak of the real cepstrum between 1/F0_MAX and 1/F0_MIN, refined by a parabola."""
    sr = params.sample_rate
    ceps = np.fft.irfft(np.log(np.maximum(mag, LOG_FLOOR)), params.n_fft, axis=1)
    lo, hi = int(sr / F0_MAX), int(sr / F0_MIN) + 1
    band = ceps[:, lo:hi]
    rows = np.arange(len(band))
    i = band.argmax(1)
    peak = band[rows, i]
    left, right = band[rows, np.maximum(i - 1, 0)], band[rows, np.minimum(i + 1, hi - lo - 1)]
    den = left - 2 * peak + right
    shift = np.where(np.abs(den) > 1e-9, 0.5 * (left - right) / np.where(den == 0, 1, den), 0.0)
    return sr / (lo + i + np.clip(shift, -1, 1)), peak


def voicing_features(mag: np.ndarray, peak: np.ndarray, params: MelParams,
                     filterbank_t: np.ndarray | None = None) -> np.ndarray:
    """(k, n_mels + 2): log-mel of the magnitude, cepstral peak, energy share below 1 kHz.
    `filterbank_t`: the mel filterbank transposed, contiguous (a strided one is 30x slower)."""
    fbt = filterbank_t if filterbank_t is not None else np.ascontiguousarray(mel_filterbank(params).T)
    logmel = np.log(np.maximum(mag @ fbt, 1e-5))
    power = mag.astype(np.float64) ** 2
    low_bins = int(LOW_BAND_HZ * params.n_fft / params.sample_rate)
    low = power[:, :low_bins].sum(1) / (power.sum(1) + 1e-12)
    return np.concatenate([logmel, peak[:, None], low[:, None]], axis=1)


class ExcitationPhase:
    """push(real, imag) vocoder frames -> the same magnitudes with excitation phase, LOOKAHEAD
    frames late; finish() returns the rest. One instance per sentence. With `band_hz`, the
    hybrid: excitation phase only in voiced frames below band_hz, the vocoder's elsewhere.
    `margin`: the voicing logit a frame must pass to count as voiced."""

    def __init__(self, params: MelParams, voicing: VoicingModel, seed: int = 0,
                 band_hz: float | None = None, margin: float = 0.0):
        self.sr, self.hop, self.n_fft = params.sample_rate, params.hop_length, params.n_fft
        self.params, self.voicing, self.margin = params, voicing, margin
        self.fbt = np.ascontiguousarray(mel_filterbank(params).T)
        self.window = analysis_window(params).astype(np.float64)
        self.rng = np.random.default_rng(seed)
        self.mag = np.zeros((0, self.n_fft // 2 + 1), np.float32)  # frames not yet emitted
        # the hybrid's mask over bins, and the vocoder's unit phase of the frames not yet emitted
        self.band = (None if band_hz is None else
                     np.arange(self.n_fft // 2 + 1) * self.sr / self.n_fft < band_hz)
        self.own = np.zeros((0, self.n_fft // 2 + 1), np.complex64)
        self.raw_f0: list[float] = []     # per frame received
        self.is_voiced: list[bool] = []
        self.f0: list[float] = []         # median-filtered, per frame finalised
        self.emitted = 0                  # frames returned so far
        self.generated = -self.n_fft // (2 * self.hop)  # next hop interval to synthesise
        self.exc_start = -self.n_fft // 2  # sample index of exc[0]
        self.exc = np.zeros(0)
        self.phase = 0.0                   # pulse-train phase at the end of what is generated
        self.held_f0 = 0.0                 # last voiced F0, carried through unvoiced frames

    def push(self, real: np.ndarray, imag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mag = np.hypot(real, imag)
        if len(mag):
            f0, peak = cepstral_f0(mag, self.params)
            voiced = self.voicing.voiced(voicing_features(mag, peak, self.params, self.fbt),
                                         self.margin)
            self.raw_f0.extend(f0.tolist())
            self.is_voiced.extend(voiced.tolist())
            self.mag = np.concatenate([self.mag, mag])
            if self.band is not None:
                self.own = np.concatenate([self.own, _unit(real + 1j * imag).astype(np.complex64)])
        return self._advance(final=False)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        return self._advance(final=True)

    def _advance(self, final: bool):
        n = len(self.raw_f0)
        # F0 of frame t is final once frame t + 1 is known (3-frame median; edges repeat).
        ready = n if final else n - 1
        while len(self.f0) < ready:
            t = len(self.f0)
            trio = sorted((self.raw_f0[max(t - 1, 0)], self.raw_f0[t], self.raw_f0[min(t + 1, n - 1)]))
            self.f0.append(trio[1])
        # Interval j (samples j*hop .. (j+1)*hop) glides from frame j's F0 to frame j+1's.
        last_interval = len(self.f0) - 2 if not final else n
        if self.f0 and last_interval >= self.generated:
            self._synthesise(self.generated, last_interval + 1)
        # Frame t's window ends at (t + 2) * hop: it is ready once interval t + 1 exists.
        upto = min(n, self.generated - 1) if not final else n
        return self._emit(upto)

    def _frame_params(self, t: int) -> tuple[float, float]:
        """(F0 for the pulse train, voiced weight) at frame t, clamped to the known frames."""
        t = min(max(t, 0), len(self.f0) - 1)
        return self.f0[t], float(self.is_voiced[t])

    def _synthesise(self, first: int, stop: int) -> None:
        """Excitation for hop intervals [first, stop): row-wise, so any grouping of intervals
        gives the same samples."""
        m, frac = stop - first, np.arange(self.hop) / self.hop
        ends = np.empty((m, 2))   # F0 at each interval's two ends
        wts = np.empty((m, 2))    # voiced weight at each end
        for row, j in enumerate(range(first, stop)):
            (fa, va), (fb, vb) = self._frame_params(j), self._frame_params(j + 1)
            ends[row] = self._hold(fa, va), self._hold(fb, vb)
            wts[row] = va, vb
        f = ends[:, :1] + (ends[:, 1:] - ends[:, :1]) * frac
        advance = 2 * np.pi * np.cumsum(f, axis=1) / self.sr
        start = np.empty(m)
        for row in range(m):  # the phase carried from interval to interval
            start[row] = self.phase
            self.phase = float((self.phase + advance[row, -1]) % (2 * np.pi))
        phi = start[:, None] + advance
        # sum_{k=1..K} cos(k phi), harmonics up to Nyquist (Dirichlet kernel), unit power
        K = np.floor(self.sr / 2 / f)
        half = np.sin(phi / 2)
        flat = np.abs(half) < 1e-6
        pulses = np.where(flat, K, np.sin((K + 0.5) * phi) / np.where(flat, 1, 2 * half) - 0.5)
        pulses /= np.sqrt(np.maximum(K, 1))
        v = wts[:, :1] + (wts[:, 1:] - wts[:, :1]) * frac
        noise = self.rng.standard_normal((m, self.hop))
        self.exc = np.concatenate([self.exc, (v * pulses + (1 - v) * noise).ravel()])
        self.generated = stop

    def _hold(self, f0: float, voiced: float) -> float:
        if voiced:
            self.held_f0 = f0
        return self.held_f0 if self.held_f0 > 0 else f0

    def _emit(self, upto: int):
        k = upto - self.emitted
        if k <= 0:
            empty = np.zeros((0, self.mag.shape[1]), np.float32)
            return empty, empty
        half = self.n_fft // 2
        starts = np.arange(self.emitted, upto) * self.hop - half - self.exc_start
        frames = self.exc[starts[:, None] + np.arange(self.n_fft)[None, :]]
        unit = _unit(np.fft.rfft(frames * self.window, axis=1))
        if self.band is not None:
            voiced = np.array(self.is_voiced[self.emitted:upto], bool)
            unit = np.where(voiced[:, None] & self.band[None, :], unit, self.own[:k])
            self.own = self.own[k:]
        mag = self.mag[:k]
        self.mag = self.mag[k:]
        self.emitted = upto
        # keep only the excitation that later frames' windows still read
        drop = upto * self.hop - half - self.exc_start
        if drop > 0:
            self.exc, self.exc_start = self.exc[drop:], self.exc_start + drop
        return (mag * unit.real).astype(np.float32), (mag * unit.imag).astype(np.float32)


def _unit(spec: np.ndarray) -> np.ndarray:
    """spec / |spec|, with 1 where a bin is silent (its phase is undefined)."""
    mag = np.abs(spec)
    unit = spec / np.maximum(mag, 1e-12)
    unit[mag <= 1e-12] = 1.0
    return unit
