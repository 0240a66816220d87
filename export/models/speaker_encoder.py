"""Student speaker encoder: convolutional, distilled from the GE2E LSTM teacher.

40-band log-mel (10 ms frames) -> strided conv -> ConvNeXt blocks -> pooling -> 256-d unit
vector. Convolutions instead of the teacher's 3x256 LSTM: cheaper, and int8 quantizes them
well.

Pooling: the teacher's embedding is its LSTM's *last* hidden state, so it weighs the end of
a window more than the start. Plain mean+std pooling cannot express that; "attentive"
pooling (the default for new models) weighs frames by a learned score plus a learned bias
per position counted from the window's end, then takes weighted mean and std.

Input normalisation makes the student deaf to loudness: "channel" subtracts each mel
band's mean over the window (cepstral mean normalisation), which also removes the
window's average spectral shape; "gain" subtracts one number, the mean over bands and
frames, and keeps that shape, a speaker cue the teacher reads.
"""

import torch
from torch import nn

from edgevc.audio.params import EMBEDDING_DIM, SPEAKER_MEL, SPEAKER_WINDOW_FRAMES
from edgevc.export.models.layers import ConvStack


class SpeakerEncoder(nn.Module):
    def __init__(self, n_mels: int = SPEAKER_MEL.n_mels, dim: int = 128, hidden: int = 384,
                 dilations=(1, 2, 4, 8, 1), out_dim: int = EMBEDDING_DIM, pooling: str = "stats",
                 input_norm: str = "channel"):
        super().__init__()
        if input_norm not in ("channel", "gain"):
            raise ValueError(f"unknown input_norm {input_norm!r}")
        self.config = dict(n_mels=n_mels, dim=dim, hidden=hidden, dilations=list(dilations),
                           out_dim=out_dim, pooling=pooling, input_norm=input_norm)
        self.inp = nn.Conv1d(n_mels, dim, 5, stride=2, padding=2)
        self.norm = nn.LayerNorm(dim)
        self.stack = ConvStack(dim, hidden, 5, dilations)
        if pooling == "attentive":
            self.positions = SPEAKER_WINDOW_FRAMES // 2  # frames after the stride-2 input conv
            self.score = nn.Linear(dim, 1)
            self.recency = nn.Parameter(torch.zeros(self.positions))
        elif pooling != "stats":
            raise ValueError(f"unknown pooling {pooling!r}")
        self.proj = nn.Linear(2 * dim, out_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, T, n_mels) log-mel windows (T <= 160) -> (B, out_dim) unit vectors."""
        mel = mel - mel.mean(dim=(1, 2) if self.config["input_norm"] == "gain" else 1, keepdim=True)
        x = self.norm(self.inp(mel.transpose(1, 2)).transpose(1, 2))
        x = self.stack(x)
        if self.config["pooling"] == "attentive":
            t = x.shape[1]
            bias = self.recency[self.positions - t:]  # position counted from the window's end
            w = torch.softmax(self.score(x).squeeze(-1) + bias, dim=1).unsqueeze(-1)
        else:
            w = torch.full_like(x[..., :1], 1.0 / x.shape[1])
        mean = (w * x).sum(dim=1)
        std = torch.sqrt((w * (x - mean.unsqueeze(1)) ** 2).sum(dim=1) + 1e-5)
        e = self.proj(torch.cat([mean, std], dim=-1))
        return e / torch.sqrt((e * e).sum(-1, keepdim=True) + 1e-12)
