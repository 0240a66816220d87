"""Alignment learner: soft attention between phonemes and mel frames from a distance in
a learned space, trained with a forward-sum (CTC) objective under a diagonal prior;
monotonic alignment search turns it into integer durations. Needs only transcribed audio."""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from edgevc.audio.params import SYNTH_MEL
from edgevc.text.symbols import SYMBOLS

N_SYMBOLS = len(SYMBOLS)


class Aligner(nn.Module):
    def __init__(self, n_symbols=N_SYMBOLS, n_mels=SYNTH_MEL.n_mels, dim=128):
        super().__init__()
        self.config = dict(n_symbols=n_symbols, n_mels=n_mels, dim=dim)
        self.embed = nn.Embedding(n_symbols, dim)
        self.text = nn.Sequential(nn.Conv1d(dim, dim, 3, padding=1), nn.ReLU(),
                                  nn.Conv1d(dim, dim, 3, padding=1), nn.ReLU(),
                                  nn.Conv1d(dim, dim, 1))
        self.mel = nn.Sequential(nn.Conv1d(n_mels, dim, 3, padding=1), nn.ReLU(),
                                 nn.Conv1d(dim, dim, 3, padding=1), nn.ReLU(),
                                 nn.Conv1d(dim, dim, 1))

    def forward(self, ids, mel, text_mask, log_prior):
        """-> log attention (B, T_mel, N): log-softmax over phonemes of -distance, + prior."""
        k = self.text(self.embed(ids).transpose(1, 2))        # (B, D, N)
        q = self.mel(mel.transpose(1, 2))                     # (B, D, T)
        # ||q - k||^2 expanded, so no (B, D, T, N) tensor is ever built
        dist = ((q * q).sum(1).unsqueeze(-1) + (k * k).sum(1).unsqueeze(1)
                - 2 * torch.bmm(q.transpose(1, 2), k)).clamp(min=0)  # (B, T, N)
        logits = -0.0005 * dist
        logits = logits.masked_fill(~text_mask.bool().unsqueeze(1), -1e4)
        return F.log_softmax(logits, dim=-1) + log_prior


def beta_binomial_prior(n_text: int, n_mel: int, scale: float = 1.0) -> np.ndarray:
    """log P(phoneme | frame) under a beta-binomial diagonal prior, shape (n_mel, n_text).

    Frame i of T favours phoneme k near i * N / T, which lets the aligner converge in a few
    hundred steps instead of thousands."""
    def gammaln(x):
        return torch.lgamma(torch.as_tensor(x, dtype=torch.float64)).numpy()

    def betaln(a, b):
        return gammaln(a) + gammaln(b) - gammaln(a + b)

    k = np.arange(n_text)[None, :]
    i = np.arange(1, n_mel + 1)[:, None]
    a, b = scale * i, scale * (n_mel + 1 - i)
    m = n_text - 1
    lp = (gammaln(m + 1) - gammaln(k + 1) - gammaln(m - k + 1)
          + betaln(k + a, m - k + b) - betaln(a, b))
    return (lp - np.logaddexp.reduce(lp, axis=1, keepdims=True)).astype(np.float32)


def forward_sum_loss(log_attn, text_lens, mel_lens):
    """CTC over phoneme order with a blank: every phoneme in order, each >= 1 frame."""
    B = log_attn.shape[0]
    padded = F.pad(log_attn, (1, 0), value=-1.0)  # blank column 0
    total = 0.0
    for b in range(B):
        n, t = int(text_lens[b]), int(mel_lens[b])
        lp = F.log_softmax(padded[b, :t, : n + 1], dim=-1).unsqueeze(1)  # (T, 1, N+1)
        target = torch.arange(1, n + 1).unsqueeze(0)
        total = total + F.ctc_loss(lp, target, torch.tensor([t]), torch.tensor([n]),
                                   blank=0, zero_infinity=True)
    return total / B


def monotonic_alignment(log_p: np.ndarray) -> np.ndarray:
    """Viterbi path through log_p (T, N), frames in order, each phoneme >= 1 frame.
    Returns durations (N,) summing to T."""
    T, N = log_p.shape
    assert T >= N, "fewer frames than phonemes"
    score = np.full((T, N), -np.inf)
    score[0, 0] = log_p[0, 0]
    from_prev = np.zeros((T, N), dtype=bool)
    for t in range(1, T):
        stay = score[t - 1]
        move = np.concatenate([[-np.inf], score[t - 1, :-1]])
        from_prev[t] = move > stay
        score[t] = np.maximum(stay, move) + log_p[t]
    durations = np.zeros(N, dtype=np.int64)
    n = N - 1
    for t in range(T - 1, -1, -1):
        durations[n] += 1
        if t > 0 and from_prev[t, n]:
            n -= 1
    return durations
