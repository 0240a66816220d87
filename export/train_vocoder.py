"""Train the frame-rate vocoder on a feature cache (no text needed).

    python -m edgevc.export.train_vocoder --cache cache.npz --run runs/vocoder --steps 20000

Losses: log-mel L1 and multi-resolution STFT; with --phase-weight also anti-wrapping phase
losses (instantaneous phase, group delay, instantaneous frequency against the recording's
own STFT, weighted by its magnitude); after --gan-start steps least-squares adversarial
and feature-matching losses against period and resolution discriminators. Resumes from
RUN/last.pt; `--init` starts a new run from a release checkpoint. `--input-mels` (from
edgevc.export.gta_mels) feeds the acoustic model's time-aligned mels instead of the
recordings' own, with the recordings still the target: fine-tuning for synthesized speech.

The phase is where this vocoder loses (benchmarks/results/copy_synthesis.md, 20 held-out
recordings): DNSMOS OVRL 3.04 real, 2.36 through the vocoder, 2.85 with the vocoder's
magnitude and the true phase. Magnitude losses leave the phase free. In session 3's
fine-tunes, judged on 8 of those recordings (baseline 2.33), neither the phase losses
(1,400 steps at weight 10: 2.26) nor 1,000 adversarial steps (2.27) helped; adversarial
training, which is how HiFi-GAN and Vocos get their phase, cost ~3 s per step (batch
8 x 32 frames) on one CPU thread then; with session 10's lighter resolution discriminators
(export/models/discriminators.py) ~1 s. A run from the shipped vocoder on train5 read
copy-synthesis DNSMOS 2.66 at step 4,000 against 2.63 (20 unseen af_heart recordings).
"""

import logging
import math

import numpy as np
import torch
from torch.nn import functional as F

from edgevc.audio.params import SYNTH_MEL
from edgevc.export.checkpoint_io import load_model_or_exit
from edgevc.export.features import LogMel, istft
from edgevc.export.models.discriminators import Discriminators, d_loss, feature_loss, g_loss
from edgevc.export.models.vocoder import Vocoder
from edgevc.export.prepare import FeatureCache
from edgevc.export.training import Progress, Run, arg_parser, saved_config, setup

log = logging.getLogger(__name__)
HOP = SYNTH_MEL.hop_length


def stft_loss(y_hat, y):
    loss = 0.0
    for n_fft in (512, 1024, 2048):
        w = torch.hann_window(n_fft, device=y.device)
        s_hat = torch.stft(y_hat, n_fft, n_fft // 4, window=w, return_complex=True).abs() + 1e-5
        s = torch.stft(y, n_fft, n_fft // 4, window=w, return_complex=True).abs() + 1e-5
        sc = torch.norm(s - s_hat) / torch.norm(s)
        loss = loss + sc + F.l1_loss(torch.log(s_hat), torch.log(s))
    return loss / 3


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """|x| up to whole turns: the distance between two phases, in [0, pi]."""
    return torch.abs(x - 2 * math.pi * torch.round(x / (2 * math.pi)))


def phase_loss(phase_hat, wav, mel_fn: LogMel):
    """Instantaneous phase, group delay (difference along frequency) and instantaneous
    frequency (difference along time) against the STFT of `wav`, anti-wrapped and weighted
    by its magnitude, so that silent bins, whose phase is noise, do not count.
    phase_hat (B, T, bins), framed like `mel_fn`."""
    spec = mel_fn.spectrum(wav).transpose(1, 2)[:, :phase_hat.shape[1]]
    phase, w = torch.angle(spec), spec.abs()
    w = w / (w.mean() + 1e-8)
    ip = (anti_wrap(phase_hat - phase) * w).mean()
    gd = (anti_wrap(torch.diff(phase_hat, dim=2) - torch.diff(phase, dim=2)) * w[:, :, 1:]).mean()
    iaf = (anti_wrap(torch.diff(phase_hat, dim=1) - torch.diff(phase, dim=1)) * w[:, 1:]).mean()
    return ip + gd + iaf


class InputMels:
    """Mels to vocode instead of the recordings' own: `gta_mels`' output, frame-aligned with
    the cache (the acoustic model's mels where there is text, the real ones elsewhere)."""

    def __init__(self, path: str, cache: FeatureCache):
        try:
            z = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise SystemExit(f"error: input mels {path}: unreadable ({e})") from None
        if not {"utt", "mel", "mel_off"} <= set(z.files):
            raise SystemExit(f"error: input mels {path}: not made by edgevc.export.gta_mels")
        if not np.array_equal(z["utt"], cache.utt) or not np.array_equal(z["mel_off"], cache.z["mel_off"]):
            raise SystemExit(f"error: input mels {path}: made from a different cache")
        self.mel, self.off = z["mel"], z["mel_off"]

    def __call__(self, i: int, start: int, frames: int) -> np.ndarray:
        return self.mel[self.off[i] + start:self.off[i] + start + frames].astype(np.float32)


class SegmentSampler:
    def __init__(self, cache: FeatureCache, frames: int, seed: int = 0,
                 input_mels: InputMels | None = None):
        self.cache, self.frames, self.input_mels = cache, frames, input_mels
        lens = np.diff(cache.z["mel_off"])
        self.ok = np.nonzero(lens > frames + 1)[0]
        w = lens[self.ok].astype(np.float64)
        self.p = w / w.sum()
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int, gain_jitter: bool = True):
        """Audio segments (B, frames * hop), and with input mels their (B, frames, n_mels)
        segments (else None: the caller computes mels from the audio)."""
        wavs, mels = [], []
        for i in self.rng.choice(self.ok, size=size, p=self.p):
            n = int(self.cache.z["mel_off"][i + 1] - self.cache.z["mel_off"][i])
            s = int(self.rng.integers(0, n - self.frames))
            wav = self.cache.wav(i)[s * HOP:(s + self.frames) * HOP]
            gain = float(self.rng.uniform(0.3, 1.0)) if gain_jitter else 1.0
            wavs.append(wav * gain)  # loudness variety
            if self.input_mels is not None:  # a log-mel moves by log(gain) with the audio
                mels.append((self.input_mels(i, s, self.frames) + np.log(gain)).astype(np.float32))
        return (torch.from_numpy(np.stack(wavs)),
                torch.from_numpy(np.stack(mels)) if mels else None)


def main(argv: list[str] | None = None):
    ap = arg_parser(__doc__, steps=20000, lr=5e-4)
    ap.add_argument("--batch", type=int, default=16, help="segments per batch")
    ap.add_argument("--frames", type=int, default=48, help="mel frames per training segment")
    ap.add_argument("--gan-start", type=int, default=4000,
                    help="step at which adversarial training starts (slow on a CPU)")
    ap.add_argument("--dim", type=int, default=192, help="model width (new runs only)")
    ap.add_argument("--layers", type=int, default=6, help="ConvNeXt blocks (new runs only)")
    ap.add_argument("--phase-weight", type=float, default=0.0,
                    help="weight of the phase losses (default 0: magnitude losses only)")
    ap.add_argument("--init", help="a new run starts from this release checkpoint's weights")
    ap.add_argument("--input-mels", help="vocode these mels (from edgevc.export.gta_mels: the "
                    "acoustic model's, aligned with the recordings) instead of the recordings' own")
    a = ap.parse_args(argv)
    dev = setup(a)
    cache = FeatureCache(a.cache)
    sampler = SegmentSampler(cache, a.frames,
                             input_mels=InputMels(a.input_mels, cache) if a.input_mels else None)
    run = Run(a.run)
    if a.init and not run.ckpt.exists():
        gen = load_model_or_exit(a.init, "vocoder").train().to(dev)
    else:
        gen = Vocoder(**saved_config(run, "vocoder", dict(dim=a.dim, hidden=3 * a.dim,
                                                          layers=a.layers))).to(dev)
    disc = Discriminators().to(dev)
    opt_g = torch.optim.AdamW(gen.parameters(), a.lr, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(disc.parameters(), a.lr, betas=(0.8, 0.99))
    modules, optims = {"vocoder": gen, "disc": disc}, {"g": opt_g, "d": opt_d}
    step = run.resume(modules, optims)
    mel_fn = LogMel().to(dev)
    progress = Progress(run, a.steps, step, "vocoder", save_every=a.save_every, stop_at=a.stop_at,
                        save=lambda n: run.save(n, modules, optims, {"vocoder": gen.config}))
    while progress.running:
        wav, input_mel = sampler.batch(a.batch)
        wav = wav.to(dev)
        mel = input_mel.to(dev) if input_mel is not None else mel_fn(wav)[:, : a.frames]
        logmag, phase = gen.polar(mel)
        y_hat = istft(*gen.to_complex(logmag, phase), wav.shape[1])
        mel_loss = F.l1_loss(mel_fn(y_hat), mel_fn(wav))  # against the recording's own mel
        loss = 45 * mel_loss + 10 * stft_loss(y_hat, wav)
        values = {"mel": mel_loss.item()}
        if a.phase_weight:
            ph_loss = phase_loss(phase, wav, mel_fn)
            loss = loss + a.phase_weight * ph_loss
            values["phase"] = ph_loss.item()
        if progress.n >= a.gan_start:
            d_out = disc(wav)
            d_fake = disc(y_hat.detach())
            ld = d_loss(d_out, d_fake)
            opt_d.zero_grad()
            ld.backward()
            opt_d.step()
            fake_out = disc(y_hat)
            # the real features from the discriminator step serve as feature-matching targets
            # (recomputing them after its update would cost a fourth pass for little change)
            lg, lf = g_loss(fake_out), feature_loss(d_out, fake_out)
            loss = loss + lg + 2 * lf
            values.update(d=ld.item(), g=lg.item(), fm=lf.item())
        opt_g.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), 100.0)
        opt_g.step()
        progress.step(**values)


if __name__ == "__main__":
    main()
