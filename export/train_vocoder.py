"""Train the frame-rate vocoder on a feature cache (no text needed).

    python -m edgevc.export.train_vocoder --cache cache.npz --run runs/vocoder --steps 20000

Losses: log-mel L1 and multi-resolution STFT; after --gan-start steps also least-squares
adversarial and feature-matching losses against period and resolution discriminators.
Resumes from RUN/last.pt.
"""

import argparse
import logging

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from edgevc.audio.params import SYNTH_MEL
from edgevc.export.features import LogMel, istft
from edgevc.export.models.discriminators import Discriminators, d_loss, feature_loss, g_loss
from edgevc.export.models.vocoder import Vocoder
from edgevc.export.prepare import FeatureCache
from edgevc.export.training import Run, pick_device

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


class SegmentSampler:
    def __init__(self, cache: FeatureCache, frames: int, seed: int = 0):
        self.cache, self.frames = cache, frames
        lens = np.diff(cache.z["mel_off"])
        self.ok = np.nonzero(lens > frames + 1)[0]
        w = lens[self.ok].astype(np.float64)
        self.p = w / w.sum()
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int, gain_jitter: bool = True):
        mels, wavs = [], []
        for i in self.rng.choice(self.ok, size=size, p=self.p):
            n = int(self.cache.z["mel_off"][i + 1] - self.cache.z["mel_off"][i])
            s = int(self.rng.integers(0, n - self.frames))
            wav = self.cache.wav(i)[s * HOP:(s + self.frames) * HOP]
            if gain_jitter:  # loudness variety; mel is recomputed from the scaled audio
                wav = wav * float(self.rng.uniform(0.3, 1.0))
            wavs.append(wav)
        return torch.from_numpy(np.stack(wavs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=48, help="mel frames per training segment")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--gan-start", type=int, default=4000)
    ap.add_argument("--save-every", type=int, default=200)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default=None)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--layers", type=int, default=6)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = pick_device(a.device)
    cache = FeatureCache(a.cache)
    sampler = SegmentSampler(cache, a.frames)
    gen = Vocoder(dim=a.dim, hidden=3 * a.dim, layers=a.layers).to(dev)
    disc = Discriminators().to(dev)
    opt_g = torch.optim.AdamW(gen.parameters(), a.lr, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(disc.parameters(), a.lr, betas=(0.8, 0.99))
    run = Run(a.run)
    modules, optims = {"vocoder": gen, "disc": disc}, {"g": opt_g, "d": opt_d}
    step = run.resume(modules, optims)
    mel_fn = LogMel().to(dev)
    bar = tqdm(total=a.steps, initial=step, desc="vocoder", unit="step")
    while step < a.steps:
        wav = sampler.batch(a.batch).to(dev)
        mel = mel_fn(wav)[:, : a.frames]
        real, imag = gen(mel)
        y_hat = istft(real, imag, wav.shape[1])
        mel_loss = F.l1_loss(mel_fn(y_hat), mel_fn(wav))
        loss = 45 * mel_loss + 10 * stft_loss(y_hat, wav)
        values = {"mel": mel_loss.item()}
        if step >= a.gan_start:
            d_out = disc(wav)
            d_fake = disc(y_hat.detach())
            ld = d_loss(d_out, d_fake)
            opt_d.zero_grad()
            ld.backward()
            opt_d.step()
            fake_out = disc(y_hat)
            lg, lf = g_loss(fake_out), feature_loss(disc(wav), fake_out)
            loss = loss + lg + 2 * lf
            values.update(d=ld.item(), g=lg.item(), fm=lf.item())
        opt_g.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), 100.0)
        opt_g.step()
        step += 1
        bar.update(1)
        bar.set_postfix(values)
        if step % 20 == 0:
            run.log(step, **values)
        if step % a.save_every == 0 or step == a.steps:
            run.save(step, modules, optims, {"vocoder": gen.config})
    bar.close()


if __name__ == "__main__":
    main()
