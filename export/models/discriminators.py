"""Discriminators for adversarial vocoder training: multi-period (waveform folded by a
period, sees phase and periodicity) and multi-resolution (STFT magnitudes)."""

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm


def _scored(convs, post, x):
    """(patch scores, every layer's activations for feature matching) of a conv stack."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        feats.append(x)
    return post(x), feats


class PeriodDisc(nn.Module):
    def __init__(self, period: int, ch=(16, 32, 64, 128)):
        super().__init__()
        self.period = period
        layers, c_in = [], 1
        for c in ch:
            layers.append(weight_norm(nn.Conv2d(c_in, c, (5, 1), (3, 1), padding=(2, 0))))
            c_in = c
        self.convs = nn.ModuleList(layers)
        self.post = weight_norm(nn.Conv2d(c_in, 1, (3, 1), padding=(1, 0)))

    def forward(self, wav):
        b, t = wav.shape
        if t % self.period:
            wav = F.pad(wav, (0, self.period - t % self.period), mode="reflect")
        x = wav.view(b, 1, -1, self.period)
        return _scored(self.convs, self.post, x)


class ResolutionDisc(nn.Module):
    # Lighter than Vocos' (32 channels, full frequency resolution in the first layer): 16
    # channels and a strided first layer cost 0.05 s instead of 0.33 s per forward and
    # backward pass (batch 8 x 0.5 s, one CPU thread), which makes adversarial training
    # affordable on a CPU.
    def __init__(self, n_fft: int, hop: int, ch: int = 16):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft))
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, ch, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(ch, ch, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(ch, ch, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(ch, ch, (3, 3), padding=(1, 1))),
        ])
        self.post = weight_norm(nn.Conv2d(ch, 1, (3, 3), padding=(1, 1)))

    def forward(self, wav):
        spec = torch.stft(wav, self.n_fft, self.hop, window=self.window, return_complex=True)
        x = torch.log1p(spec.abs()).transpose(1, 2).unsqueeze(1)  # (B, 1, T, F)
        return _scored(self.convs, self.post, x)


class Discriminators(nn.Module):
    def __init__(self):
        super().__init__()
        self.discs = nn.ModuleList([PeriodDisc(p) for p in (2, 3, 5, 7, 11)] +
                                   [ResolutionDisc(n, n // 4) for n in (512, 1024, 2048)])

    def forward(self, wav):
        return [d(wav) for d in self.discs]


def d_loss(real_out, fake_out):
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f ** 2)
               for (r, _), (f, _) in zip(real_out, fake_out))


def g_loss(fake_out):
    return sum(torch.mean((1 - f) ** 2) for f, _ in fake_out)


def feature_loss(real_out, fake_out):
    return sum(F.l1_loss(ff, rf.detach())
               for (_, rfs), (_, ffs) in zip(real_out, fake_out) for rf, ff in zip(rfs, ffs))


class MelDisc(nn.Module):
    """Patch discriminator on log-mel crops (B, T, n_mels), for the acoustic model: it sees
    the fine time-frequency texture that an L1 loss averages away. Strided along frequency
    from the first layer (40 x 32 channels after it): ~0.1 s a step on one CPU thread for
    a batch of 64-frame crops."""

    def __init__(self, ch: int = 32):
        super().__init__()
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, ch, (3, 5), stride=(1, 2), padding=(1, 2))),
            weight_norm(nn.Conv2d(ch, ch, (3, 5), stride=(2, 2), padding=(1, 2))),
            weight_norm(nn.Conv2d(ch, ch, (3, 5), stride=(1, 2), padding=(1, 2))),
            weight_norm(nn.Conv2d(ch, ch, (3, 3), padding=(1, 1))),
        ])
        self.post = weight_norm(nn.Conv2d(ch, 1, (3, 3), padding=(1, 1)))

    def forward(self, mel):
        x = mel.unsqueeze(1)  # (B, 1, T, n_mels)
        return _scored(self.convs, self.post, x)
