"""Distil the student speaker encoder from the GE2E teacher embeddings in a feature cache.

    python -m edgevc.export.train_speaker_encoder --cache cache.npz --run runs/encoder --steps 4000

Targets are the teacher's embeddings of 1.6 s windows; the student sees the runtime's own
40-band log-mel of the same audio. No labels needed. Loss: 1 - cos.
- `--teacher cache`: the windows `prepare` stored (fixed offsets, the cache's own levels).
- `--teacher online` (needs the `[teacher]` extra): the teacher labels each batch as it is
  drawn, so the student never sees the same window twice: any offset, every window at the
  teacher's level (export/speaker_teacher.py), half of them resampled by 0.88-1.14 (pitch and
  vocal-tract length move together: a new voice the teacher names), a quarter with noise
  at 15-40 dB SNR. About twice the cost per step.
Resumes from RUN/last.pt; `--init` starts a new run from a release checkpoint.
"""

import logging

import numpy as np
import torch
from tqdm import tqdm

from edgevc.audio.features import log_mel
from edgevc.audio.params import SPEAKER_MEL, SPEAKER_WINDOW_FRAMES, SPEAKER_WINDOW_HOP
from edgevc.export.checkpoint_io import load_model_or_exit
from edgevc.export.models.speaker_encoder import SpeakerEncoder
from edgevc.export.prepare import FeatureCache
from edgevc.export.speaker_teacher import WINDOW_SAMPLES, at_level
from edgevc.export.training import Progress, Run, arg_parser, saved_config, setup, warmup_then_decay

log = logging.getLogger(__name__)


class WindowSet:
    """(student input window, teacher embedding) pairs over every cached utterance."""

    def __init__(self, cache: FeatureCache, utts=None):
        self.mels, self.items, self.targets = [], [], []
        for i in tqdm(range(len(cache)) if utts is None else utts, desc="windows", unit="utt"):
            win = cache.win_emb(i)
            if not len(win):
                continue
            mel = log_mel(cache.wav(i), SPEAKER_MEL)
            u = len(self.mels)
            self.mels.append(mel)
            for k, emb in enumerate(win):
                s = k * SPEAKER_WINDOW_HOP
                if s + SPEAKER_WINDOW_FRAMES <= len(mel):
                    self.items.append((u, s))
                    self.targets.append(emb / np.linalg.norm(emb))
        self.targets = np.stack(self.targets).astype(np.float32)

    def batch(self, rng, size):
        pick = rng.integers(0, len(self.items), size)
        x = np.stack([self.mels[self.items[j][0]][self.items[j][1]:self.items[j][1] + SPEAKER_WINDOW_FRAMES]
                      for j in pick])
        return torch.from_numpy(x), torch.from_numpy(self.targets[pick])


def fft_resample(x: np.ndarray, n_out: int) -> np.ndarray:
    """`x` stretched or squeezed to `n_out` samples by cutting or zero-padding its spectrum
    (band-limited; treats the window as periodic, which is harmless for augmentation)."""
    spec = np.fft.rfft(x)
    out = np.zeros(n_out // 2 + 1, complex)
    k = min(len(spec), len(out))
    out[:k] = spec[:k]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


class OnlineWindows:
    """Random 1.6 s windows of the cache's audio, augmented, labelled by the teacher per batch."""

    SPEEDS = (0.88, 1.14)
    MIN_DBFS = -45.0  # quieter windows are pauses: the teacher's answer there means nothing
    MAX_TRIES = 1000  # a cache of silence would otherwise draw forever

    def __init__(self, cache: FeatureCache, teacher, speed_share: float = 0.5,
                 noise_share: float = 0.25):
        self.cache, self.teacher = cache, teacher
        self.speed_share, self.noise_share = speed_share, noise_share
        lens = np.diff(cache.z["wav_off"])
        self.ok = np.nonzero(lens >= WINDOW_SAMPLES * self.SPEEDS[1] + 1)[0]
        self.p = lens[self.ok] / lens[self.ok].sum()

    def window(self, rng) -> np.ndarray:
        for _ in range(self.MAX_TRIES):
            wav = self.cache.wav(int(rng.choice(self.ok, p=self.p)))
            speed = rng.uniform(*self.SPEEDS) if rng.random() < self.speed_share else 1.0
            n = int(round(WINDOW_SAMPLES * speed))  # read n samples, play them in WINDOW_SAMPLES
            s = int(rng.integers(0, len(wav) - n + 1))
            w = wav[s:s + n]
            if 20 * np.log10(np.sqrt(np.mean(w ** 2)) + 1e-12) < self.MIN_DBFS:
                continue
            if n != WINDOW_SAMPLES:
                w = fft_resample(w, WINDOW_SAMPLES)
            w = at_level(w)
            if rng.random() < self.noise_share:
                snr = rng.uniform(15, 40)
                w = w + rng.standard_normal(len(w)) * np.sqrt(np.mean(w ** 2)) * 10 ** (-snr / 20)
            return w.astype(np.float32)
        raise SystemExit(f"error: {self.MAX_TRIES} windows drawn from the cache in a row were "
                         f"quieter than {self.MIN_DBFS:g} dBFS: is its audio silent?")

    def batch(self, rng, size):
        wins = np.stack([self.window(rng) for _ in range(size)])
        x = np.stack([log_mel(w, SPEAKER_MEL)[:SPEAKER_WINDOW_FRAMES] for w in wins])
        return torch.from_numpy(x), torch.from_numpy(self.teacher.embed_windows(wins))


def train(run: Run, data: WindowSet | OnlineWindows, steps: int, lr: float, batch: int, dev,
          init: SpeakerEncoder | None = None, save_every: int = 200,
          config: dict | None = None, stop_at: int | None = None) -> SpeakerEncoder:
    """Train (or resume) the student in `run` to `steps`: 1 - cos to the teacher's windows.
    `init`: the model a new run starts from (else a new attentive-pooling, gain-normalised
    encoder, with `config` over those defaults). An `init` keeps its own architecture; only an
    `input_norm` in `config` replaces its normalisation."""
    config = config or {}
    if init is not None and not run.ckpt.exists():
        model = init.train().to(dev)
        model.config.update({k: v for k, v in config.items() if k == "input_norm"})
    else:
        defaults = {"pooling": "attentive", "input_norm": "gain", **config}
        model = SpeakerEncoder(**saved_config(run, "speaker_encoder", defaults)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr, weight_decay=0.01)
    sched = warmup_then_decay(opt, 200, steps, 0.05)
    step = run.resume({"speaker_encoder": model}, {"opt": opt, "sched": sched})
    rng = np.random.default_rng(step)
    progress = Progress(run, steps, step, "encoder", save_every=save_every, stop_at=stop_at,
                        save=lambda n: run.save(n, {"speaker_encoder": model},
                                                {"opt": opt, "sched": sched},
                                                {"speaker_encoder": model.config}))
    while progress.running:
        x, target = data.batch(rng, batch)
        cos = (model(x.to(dev)) * target.to(dev)).sum(-1).mean()
        loss = 1 - cos
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        progress.step(cos=cos.item())
    return model.eval()


def main(argv: list[str] | None = None):
    ap = arg_parser(__doc__, steps=4000, lr=2e-3)
    ap.add_argument("--batch", type=int, default=64, help="windows per batch")
    ap.add_argument("--init", help="a new run starts from this release checkpoint's weights")
    ap.add_argument("--teacher", choices=("cache", "online"), default="cache",
                    help="targets: the windows the cache stores, or the teacher run per batch on "
                         "augmented windows (needs the [teacher] extra)")
    ap.add_argument("--input-norm", choices=("channel", "gain"),
                    help="student input normalisation: per mel band (the models before session 6) "
                         "or one gain (default for new runs); with --init it replaces the init's")
    ap.add_argument("--dim", type=int, default=128, help="student width (new runs only)")
    a = ap.parse_args(argv)
    dev = setup(a)
    run = Run(a.run)
    init = load_model_or_exit(a.init, "speaker_encoder") if a.init and not run.ckpt.exists() else None
    try:
        cache = FeatureCache(a.cache)
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"error: --cache {a.cache}: not a readable feature cache ({e})") from None
    if a.teacher == "online":
        try:
            from edgevc.export.speaker_teacher import Teacher
            data = OnlineWindows(cache, Teacher())
        except ImportError as e:
            raise SystemExit(f"error: --teacher online needs the [teacher] extra ({e})") from None
        log.info("%d utterances to draw windows from", len(data.ok))
    else:
        data = WindowSet(cache)
        log.info("%d teacher windows", len(data.items))
    config = {"dim": a.dim, "hidden": 3 * a.dim}
    if a.input_norm:
        config["input_norm"] = a.input_norm
    train(run, data, a.steps, a.lr, a.batch, dev, init, a.save_every, config, a.stop_at)


if __name__ == "__main__":
    main()
