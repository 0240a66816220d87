"""A speaker-identification judge with no neural network: MFCC features, a GMM-UBM.

Why it exists: the clone benchmark's other identification judge is a speaker embedding
(resemblyzer's GE2E encoder), and the acoustic model is trained against GE2E-style
embeddings. A clone could then be "recognised" because it mimics what one encoder
listens to rather than because it sounds like the person. This judge shares nothing with
that encoder: short-time cepstra and a Gaussian mixture, the classic text-independent
speaker-recognition recipe (Reynolds, Quatieri and Dunn, 2000), in numpy alone.

The recipe, and why each part:

- MFCCs c1..c20 of 25 ms Hamming frames every 10 ms (pre-emphasis 0.97, 40 mel bands
  from 100 Hz), plus their deltas: the spectral envelope, which carries the vocal tract,
  and its movement. c0 (loudness) is dropped: recording level says nothing of the speaker.
- Frames more than 30 dB below the clip's loudest frame are dropped: pauses carry the
  room and the recorder, not the voice.
- Cepstral mean normalisation per clip: a fixed channel (microphone, codec, the
  synthesizer's overall tilt) adds a constant to the cepstra; subtracting their mean
  removes it, so identification rests on the voice rather than on the recording chain.
- A universal background model (UBM): one diagonal-covariance GMM trained by EM on the
  pooled enrollment speech of all speakers, so it describes "speech in general" for
  exactly this population. Diagonal covariances: MFCCs are nearly decorrelated by the DCT,
  and full covariances need far more data than seconds of enrollment.
- Each speaker model is the UBM with its means MAP-adapted to the speaker's enrollment
  speech (relevance factor 16): components the speaker's speech visits move toward it,
  the others stay at the UBM. With seconds of enrollment this is far more robust than
  training a GMM per speaker from scratch, and the models stay comparable.
- Score: the average per-frame log-likelihood ratio of the speaker model against the UBM;
  the speaker with the highest ratio is the top-1 identification.

Deterministic: the UBM's k-means initialisation draws from a seeded generator, and the
rest is plain arithmetic.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edgevc.errors import InputError

log = logging.getLogger(__name__)

SR = 16000
N_CEPS = 20                 # c1..c20 (c0 dropped)
N_MELS = 40
FRAME_S, HOP_S = 0.025, 0.010
PRE_EMPHASIS = 0.97
TOP_DB = 30.0               # frames further below the loudest frame are silence
DELTA_N = 2                 # delta regression over +-2 frames
MIN_SPEECH_FRAMES = 50      # 0.5 s of speech: fewer frames say too little to score
VAR_FLOOR = 1e-3            # variance floor, relative to the data's global variance
CHUNK = 8192                # frames per block in likelihood computations (bounded memory)


def _check_wav(wav, what: str) -> np.ndarray:
    x = np.asarray(wav)
    if x.ndim != 1:
        raise InputError(f"{what}: expected mono audio (1-D), got shape {x.shape}")
    if x.size == 0:
        raise InputError(f"{what}: empty audio")
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
        raise InputError(f"{what}: audio holds non-finite or non-numeric samples")
    return x.astype(np.float64)


def _mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, evenly spaced on the HTK mel scale."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sr)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (bins[None] - lo) / (mid - lo)
    fall = (hi - bins[None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(rise, fall))


def _dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II rows 1..n_out (row 0, the mean log energy, left out)."""
    k = np.arange(1, n_out + 1)[:, None]
    n = np.arange(n_in)[None]
    return np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))


def _deltas(c: np.ndarray, n: int = DELTA_N) -> np.ndarray:
    """Regression slope over +-n frames, edges repeated."""
    pad = np.pad(c, ((n, n), (0, 0)), mode="edge")
    t = len(c)
    num = sum(k * (pad[n + k:n + k + t] - pad[n - k:n - k + t]) for k in range(1, n + 1))
    return num / (2.0 * sum(k * k for k in range(1, n + 1)))


def mfcc_features(wav, sr: int = SR, what: str = "audio") -> np.ndarray:
    """(frames, 2 * N_CEPS) MFCCs and deltas of the speech frames of one clip, the cepstra
    mean-normalised over those frames. Raises InputError (one line, naming `what`) for
    audio that is empty, not mono, not finite, or holds under 0.5 s of speech."""
    x = _check_wav(wav, what)
    win, hop = round(FRAME_S * sr), round(HOP_S * sr)
    if len(x) < win + (MIN_SPEECH_FRAMES - 1) * hop:
        raise InputError(f"{what}: {len(x) / sr:.2f} s of audio; the GMM-UBM judge needs at "
                         f"least {MIN_SPEECH_FRAMES * HOP_S:g} s of speech")
    x = np.append(x[0], x[1:] - PRE_EMPHASIS * x[:-1])
    n_frames = 1 + (len(x) - win) // hop
    idx = np.arange(win)[None] + hop * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hamming(win)[None]
    n_fft = 1 << (win - 1).bit_length()
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2
    energy_db = 10.0 * np.log10(power.sum(1) + 1e-12)
    fb = _mel_filterbank(sr, n_fft, N_MELS, 100.0, min(7600.0, 0.475 * sr))
    ceps = np.log(power @ fb.T + 1e-10) @ _dct_matrix(N_MELS, N_CEPS).T
    feats = np.hstack([ceps, _deltas(ceps)])
    speech = (energy_db > energy_db.max() - TOP_DB) & (energy_db > -100.0)
    if speech.sum() < MIN_SPEECH_FRAMES:
        raise InputError(f"{what}: {int(speech.sum())} frames of speech; the GMM-UBM judge "
                         f"needs at least {MIN_SPEECH_FRAMES} ({MIN_SPEECH_FRAMES * HOP_S:g} s)")
    feats = feats[speech]
    feats[:, :N_CEPS] -= feats[:, :N_CEPS].mean(0)  # cepstral mean normalisation
    return feats


def _logsumexp(a: np.ndarray) -> np.ndarray:
    m = a.max(1, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(1, keepdims=True)))[:, 0]


@dataclass
class DiagGmm:
    """A Gaussian mixture with diagonal covariances: weights (K,), means and variances (K, D)."""
    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    def log_joint(self, x: np.ndarray) -> np.ndarray:
        """(T, K): log w_k + log N(x_t; mean_k, diag(var_k)), expanded into matrix products."""
        prec = 1.0 / self.variances
        const = (np.log(self.weights)
                 - 0.5 * (np.log(2 * np.pi * self.variances).sum(1) + (self.means ** 2 * prec).sum(1)))
        return const[None] - 0.5 * (x ** 2) @ prec.T + x @ (self.means * prec).T

    def frame_loglik(self, x: np.ndarray) -> np.ndarray:
        """(T,) log p(x_t), in blocks of CHUNK frames."""
        return np.concatenate([_logsumexp(self.log_joint(x[i:i + CHUNK]))
                               for i in range(0, len(x), CHUNK)])

    def stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Zeroth, first and second order statistics of x under the posteriors, and the
        total log-likelihood (the E step)."""
        n = np.zeros(len(self.weights))
        f = np.zeros_like(self.means)
        s = np.zeros_like(self.means)
        total = 0.0
        for i in range(0, len(x), CHUNK):
            xb = x[i:i + CHUNK]
            lj = self.log_joint(xb)
            ll = _logsumexp(lj)
            post = np.exp(lj - ll[:, None])
            n += post.sum(0)
            f += post.T @ xb
            s += post.T @ (xb ** 2)
            total += float(ll.sum())
        return n, f, s, total


def _kmeans_init(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int) -> np.ndarray:
    """Frame labels of a few Lloyd iterations from k distinct random frames, on features
    scaled to unit variance (so no dimension dominates the distance)."""
    z = x / (x.std(0) + 1e-9)
    cent = z[rng.choice(len(z), k, replace=False)]
    labels = np.zeros(len(z), dtype=np.int64)
    for _ in range(iterations):
        d = (cent ** 2).sum(1)[None] - 2 * z @ cent.T  # |z|^2 is the same for every centre
        labels = d.argmin(1)
        counts = np.bincount(labels, minlength=k)
        for j in range(k):
            cent[j] = z[labels == j].mean(0) if counts[j] else z[rng.integers(len(z))]
    return labels


def train_ubm(x: np.ndarray, components: int, iterations: int = 20, seed: int = 0,
              tol: float = 1e-4) -> DiagGmm:
    """A diagonal GMM fitted by EM to the frames x (T, D), started from k-means. Stops
    after `iterations` or when the mean log-likelihood per frame gains under `tol`."""
    if len(x) < 10 * components:
        raise InputError(f"{len(x)} frames of speech to train a {components}-component UBM; "
                         f"needs at least {10 * components}")
    rng = np.random.default_rng(seed)
    floor = VAR_FLOOR * x.var(0)
    labels = _kmeans_init(x, components, rng, iterations=8)
    counts = np.bincount(labels, minlength=components).astype(np.float64)
    means = np.stack([x[labels == j].mean(0) if counts[j] else x.mean(0) for j in range(components)])
    variances = np.stack([x[labels == j].var(0) if counts[j] > 1 else x.var(0)
                          for j in range(components)])
    weights = np.maximum(counts, 1.0)
    gmm = DiagGmm(weights / weights.sum(), means, np.maximum(variances, floor))
    prev = -np.inf
    for it in range(iterations):
        n, f, s, total = gmm.stats(x)
        avg = total / len(x)
        alive = n > 1e-3 * len(x) / components  # a component that lost its frames is re-seeded
        safe = np.maximum(n, 1e-10)[:, None]
        means = np.where(alive[:, None], f / safe, x[rng.integers(len(x), size=components)])
        variances = np.where(alive[:, None], s / safe - means ** 2, x.var(0)[None])
        weights = np.maximum(n, 1e-3 * len(x) / components)
        gmm = DiagGmm(weights / weights.sum(), means, np.maximum(variances, floor))
        log.debug("UBM EM %d: %.4f nats/frame", it + 1, avg)
        if avg - prev < tol and alive.all():
            break
        prev = avg
    return gmm


def map_adapt_means(ubm: DiagGmm, x: np.ndarray, relevance: float) -> DiagGmm:
    """The UBM with its means MAP-adapted to the frames x: mean_k moves toward the
    posterior-weighted mean of x by n_k / (n_k + relevance), where n_k is the soft count of
    frames component k explains; weights and variances stay the UBM's."""
    n, f, _, _ = ubm.stats(x)
    alpha = (n / (n + relevance))[:, None]
    data_mean = f / np.maximum(n, 1e-10)[:, None]
    return DiagGmm(ubm.weights, alpha * data_mean + (1.0 - alpha) * ubm.means, ubm.variances)


class GmmUbm:
    """Speaker identification by MFCC GMM-UBM. `fit({speaker: audio or [audio, ...]})`
    trains the UBM on everyone's speech pooled and adapts one model per speaker; `scores`
    and `identify` judge a clip against them. Audio is mono float at `sr`."""

    def __init__(self, components: int = 64, relevance: float = 16.0, iterations: int = 20,
                 seed: int = 0, sr: int = SR):
        self.components, self.relevance = components, relevance
        self.iterations, self.seed, self.sr = iterations, seed, sr
        self.speakers: list[str] = []
        self.ubm: DiagGmm | None = None
        self.models: list[DiagGmm] = []

    def describe(self) -> str:
        return (f"MFCC GMM-UBM (numpy): c1-c{N_CEPS} + deltas, {TOP_DB:g} dB frame selection, "
                f"cepstral mean normalisation; {self.components}-component diagonal UBM by EM on "
                f"the pooled enrollment speech; means MAP-adapted (relevance {self.relevance:g}); "
                f"top-1 by mean log-likelihood ratio")

    def features(self, wav, what: str = "audio") -> np.ndarray:
        return mfcc_features(wav, self.sr, what)

    def fit(self, enrollment: Mapping[str, np.ndarray | Sequence[np.ndarray]]) -> "GmmUbm":
        if len(enrollment) < 2:
            raise InputError(f"GMM-UBM identification needs at least 2 speakers, got {len(enrollment)}")
        feats = []
        for spk, audio in enrollment.items():
            clips = [audio] if isinstance(audio, np.ndarray) and audio.ndim == 1 else list(audio)
            if not clips:
                raise InputError(f"speaker {spk}: no enrollment audio")
            feats.append(np.concatenate([self.features(c, f"speaker {spk} enrollment")
                                         for c in clips]))
        self.ubm = train_ubm(np.concatenate(feats), self.components, self.iterations, self.seed)
        self.speakers = list(enrollment)
        self.models = [map_adapt_means(self.ubm, f, self.relevance) for f in feats]
        log.info("GMM-UBM: %d speakers, %d frames of enrollment speech",
                 len(self.speakers), sum(len(f) for f in feats))
        return self

    def scores(self, wav, what: str = "audio") -> np.ndarray:
        """Mean per-frame log-likelihood ratio of each speaker model against the UBM, in
        the order of `speakers`."""
        if self.ubm is None:
            raise RuntimeError("GmmUbm.scores before fit")
        x = self.features(wav, what)
        base = self.ubm.frame_loglik(x)
        return np.array([float(np.mean(m.frame_loglik(x) - base)) for m in self.models])

    def identify(self, wav, what: str = "audio") -> str:
        return self.speakers[int(np.argmax(self.scores(wav, what)))]
