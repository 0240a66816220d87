"""Student speaker encoder: convolutional, distilled from the GE2E LSTM teacher.

40-band log-mel (10 ms frames) -> strided conv -> ConvNeXt blocks -> mean+std pooling ->
256-d unit vector. Convolutions instead of the teacher's 3x256 LSTM: cheaper, and int8
quantizes them well.
"""

import torch
from torch import nn

from edgevc.audio.params import EMBEDDING_DIM, SPEAKER_MEL
from edgevc.export.models.layers import ConvStack


class SpeakerEncoder(nn.Module):
    def __init__(self, n_mels: int = SPEAKER_MEL.n_mels, dim: int = 128, hidden: int = 384,
                 dilations=(1, 2, 4, 8, 1), out_dim: int = EMBEDDING_DIM):
        super().__init__()
        self.config = dict(n_mels=n_mels, dim=dim, hidden=hidden, dilations=list(dilations),
                           out_dim=out_dim)
        self.inp = nn.Conv1d(n_mels, dim, 5, stride=2, padding=2)
        self.norm = nn.LayerNorm(dim)
        self.stack = ConvStack(dim, hidden, 5, dilations)
        self.proj = nn.Linear(2 * dim, out_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, T, n_mels) log-mel windows -> (B, out_dim) unit vectors."""
        mel = mel - mel.mean(dim=1, keepdim=True)  # per-window channel normalisation
        x = self.norm(self.inp(mel.transpose(1, 2)).transpose(1, 2))
        x = self.stack(x)
        mean = x.mean(dim=1)
        std = torch.sqrt(((x - mean.unsqueeze(1)) ** 2).mean(dim=1) + 1e-5)
        e = self.proj(torch.cat([mean, std], dim=-1))
        return e / torch.sqrt((e * e).sum(-1, keepdim=True) + 1e-12)
