"""Grapheme-to-phoneme model for words outside the lexicon: letters -> ARPAbet with stress.

Design: a small pre-norm transformer encoder (self-attention, then a depthwise conv
feeding the MLP) reads the letters of a word; a linear layer then turns each letter's
state into `upsample` (3) frames, and a head scores every frame over blank + the 69
phonemes of `edgevc.text.symbols.PHONEMES`, trained with CTC. Why this shape:

- Non-autoregressive: one graph call per word, no decoder loop in ONNX or numpy, and the
  runtime's decoding is argmax -> collapse repeats -> drop blanks.
- Three frames per letter leave room for letters that say two phonemes ("x" -> K S,
  "u" -> Y UW) and for the blank CTC needs between repeated phonemes. The encoder runs
  at letter rate and only the output layers at frame rate: a third of the work of
  repeating the letters at the input (0.41 against 1.10 s per 256-word training step at
  dim 128, 3 layers, on a shared CPU).
- Attention sees the whole word, which English spelling needs (the final e of "make"
  changes the a); the depthwise conv adds local, relative context cheaply (attention
  alone has only absolute sinusoidal positions).
- Only MatMul/Conv carry weights, so int8 weights cover nearly all of it (see
  `edgevc.export.g2p_export` for why its int8 is dynamic).

The letter alphabet and the phoneme list are part of the contract and go into the bundle
manifest next to the graph.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from edgevc.text.symbols import PHONEMES

LETTERS = "abcdefghijklmnopqrstuvwxyz'"   # id 0 is padding, letter k has id k + 1
BLANK = 0                                   # CTC blank; phoneme k has output id k + 1
OUTPUTS = ["<blank>", *PHONEMES]


def sinusoids(length: int, dim: int) -> torch.Tensor:
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    return table


class Block(nn.Module):
    """Pre-norm self-attention, then depthwise conv -> MLP; both residual."""

    def __init__(self, dim: int, heads: int, hidden: int, kernel: int, dropout: float):
        super().__init__()
        self.heads, self.scale = heads, 1.0 / math.sqrt(dim // heads)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dw = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.pw1 = nn.Linear(dim, hidden)
        self.pw2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None, mask: torch.Tensor | None):
        B, T, D = x.shape
        H = self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(B, T, 3, H, D // H).permute(2, 0, 3, 1, 4).unbind(0)
        att = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        if bias is not None:
            att = att + bias                       # -1e4 on padded keys
        y = torch.matmul(att.softmax(-1), v).transpose(1, 2).reshape(B, T, D)
        x = x + self.drop(self.proj(y))
        y = self.norm2(x)
        if mask is not None:
            y = y * mask                           # padding must not leak in through the conv
        y = self.dw(y.transpose(1, 2)).transpose(1, 2)
        return x + self.drop(self.pw2(F.gelu(self.pw1(y))))


class G2PModel(nn.Module):
    def __init__(self, dim: int = 96, heads: int = 4, hidden: int = 256, layers: int = 4,
                 kernel: int = 5, upsample: int = 3, max_letters: int = 32, dropout: float = 0.1):
        super().__init__()
        self.config = dict(dim=dim, heads=heads, hidden=hidden, layers=layers, kernel=kernel,
                           upsample=upsample, max_letters=max_letters, dropout=dropout)
        self.upsample, self.max_letters = upsample, max_letters
        self.embed = nn.Embedding(len(LETTERS) + 1, dim, padding_idx=0)
        self.register_buffer("pos", sinusoids(max_letters, dim), persistent=False)
        self.blocks = nn.ModuleList(Block(dim, heads, hidden, kernel, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, upsample * dim)
        self.head = nn.Linear(dim, len(OUTPUTS))

    def forward(self, letters: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """letters (B, L) int64 ids -> logits (B, L * upsample, 1 + len(PHONEMES)).

        `lengths` (B,) masks padding in a batch; the exported graph takes one word, unpadded.
        """
        B, L = letters.shape
        x = self.embed(letters) + self.pos[:L]
        bias = mask = None
        if lengths is not None:
            valid = torch.arange(L, device=x.device)[None] < lengths[:, None]
            mask = valid[:, :, None].to(x.dtype)
            bias = (~valid)[:, None, None, :].to(x.dtype) * -1e4
        for block in self.blocks:
            x = block(x, bias, mask)
        frames = F.gelu(self.up(self.norm(x))).reshape(B, L * self.upsample, -1)
        return self.head(frames)


def encode_word(word: str) -> list[int] | None:
    """Letter ids for a lowercase word; None when it has a character outside LETTERS."""
    ids = [LETTERS.find(c) + 1 for c in word]
    return None if not ids or 0 in ids else ids


def ctc_greedy(logits: torch.Tensor) -> list[str]:
    """One word's (T, V) logits -> phonemes: best class per frame, repeats merged, blanks dropped."""
    best = logits.argmax(-1).tolist()
    out, prev = [], BLANK
    for c in best:
        if c != prev and c != BLANK:
            out.append(OUTPUTS[c])
        prev = c
    return out
