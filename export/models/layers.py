"""Building blocks shared by the acoustic model and the vocoder.

Everything is convolutional with a finite receptive field: the runtime can run the decoder
and vocoder in chunks with enough context that chunked output equals whole output.
"""

import torch
from torch import nn
from torch.nn import functional as F


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> (optional speaker FiLM) -> MLP, residual.

    Inputs and outputs are (batch, time, channels): pointwise layers are plain MatMuls,
    which quantize well; only the depthwise conv sees (batch, channels, time).
    """

    def __init__(self, dim: int, hidden: int, kernel: int = 7, dilation: int = 1,
                 cond_dim: int = 0):
        super().__init__()
        self.dw = nn.Conv1d(dim, dim, kernel, padding=dilation * (kernel - 1) // 2,
                            dilation=dilation, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.film = nn.Linear(cond_dim, 2 * dim) if cond_dim else None
        self.pw1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(hidden, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 0.1))
        self.receptive_radius = dilation * (kernel - 1) // 2
        self.dropout = 0.0  # training only (set_dropout): not a weight, not in the graph

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        y = self.dw(x.transpose(1, 2)).transpose(1, 2)
        y = self.norm(y)
        if self.film is not None:
            scale, shift = self.film(cond).unsqueeze(1).chunk(2, dim=-1)
            y = y * (1 + scale) + shift
        y = self.pw2(self.act(self.pw1(y)))
        if self.training and self.dropout:
            y = F.dropout(y, self.dropout, True)
        return x + self.gamma * y


class ConvStack(nn.Module):
    """ConvNeXt blocks with padding positions re-zeroed after each block, so a padded batch
    computes what each sequence would alone (zero padding at its true ends).

    With `film_rank` > 0 the condition first goes through one shared projection to
    `film_rank` dimensions and each block's FiLM reads that: a low-rank factorisation of
    the blocks' FiLM weights (256 x 384 each at full rank) that costs a fraction of the
    bytes, which the bundle's size budget needs.
    """

    def __init__(self, dim, hidden, kernel, dilations, cond_dim=0, film_rank=0):
        super().__init__()
        self.cond_proj = (nn.Linear(cond_dim, film_rank, bias=False)
                          if cond_dim and film_rank else None)
        block_cond = film_rank if self.cond_proj is not None else cond_dim
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, hidden, kernel, d, block_cond) for d in dilations)

    @property
    def receptive_radius(self) -> int:
        return sum(b.receptive_radius for b in self.blocks)

    def forward(self, x, cond=None, mask=None):
        if self.cond_proj is not None:
            cond = self.cond_proj(cond)
        for b in self.blocks:
            x = b(x, cond)
            if mask is not None:
                x = x * mask
        return x


def set_dropout(model: nn.Module, p: float) -> int:
    """Dropout `p` in every module that has a training-only `dropout` rate (the ConvNeXt
    blocks' residual branches, the variance predictors' hidden layers); returns how many.
    Inference and export are unchanged: the rate is read only in training mode."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout {p}: must lie in [0, 1)")
    n = 0
    for m in model.modules():
        if isinstance(getattr(m, "dropout", None), float):
            m.dropout = p
            n += 1
    return n
