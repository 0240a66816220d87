"""Frame-rate vocoder: ConvNeXt over mel frames predicting a complex spectrum per frame;
the waveform is its inverse STFT (computed by the runtime in numpy, by torch in training).
All heavy work runs at 62.5 frames/s instead of 16,000 samples/s."""

import torch
from torch import nn

from edgevc.audio.params import SYNTH_MEL
from edgevc.export.models.layers import ConvStack


class Vocoder(nn.Module):
    def __init__(self, n_mels: int = SYNTH_MEL.n_mels, dim: int = 192, hidden: int = 576,
                 layers: int = 6, n_fft: int = SYNTH_MEL.n_fft):
        super().__init__()
        self.config = dict(n_mels=n_mels, dim=dim, hidden=hidden, layers=layers, n_fft=n_fft)
        self.embed = nn.Conv1d(n_mels, dim, 7, padding=3)
        self.norm = nn.LayerNorm(dim)
        self.stack = ConvStack(dim, hidden, 7, [1] * layers)
        self.out_norm = nn.LayerNorm(dim)
        self.n_bins = n_fft // 2 + 1
        self.head = nn.Linear(dim, 2 * self.n_bins)

    @property
    def receptive_radius(self) -> int:
        return 3 + self.stack.receptive_radius

    def polar(self, mel: torch.Tensor, mask: torch.Tensor | None = None):
        """mel (B, T, n_mels) -> log-magnitude, phase (B, T, n_fft/2+1); training's phase
        losses read the phase here, free of atan2's blow-up where the magnitude is tiny."""
        x = self.embed(mel.transpose(1, 2)).transpose(1, 2)
        x = self.norm(x)
        if mask is not None:
            x = x * mask
        x = self.out_norm(self.stack(x, mask=mask))
        logmag, phase = self.head(x).split(self.n_bins, dim=-1)
        return logmag.clamp(max=6.0), phase

    @staticmethod
    def to_complex(logmag: torch.Tensor, phase: torch.Tensor):
        mag = torch.exp(logmag)
        return mag * torch.cos(phase), mag * torch.sin(phase)

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None):
        """mel (B, T, n_mels) -> real, imag (B, T, n_fft/2+1)."""
        return self.to_complex(*self.polar(mel, mask))
