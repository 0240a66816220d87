"""Non-autoregressive acoustic model: phoneme ids + speaker embedding -> durations -> mel.

Encoder and decoder are separate ONNX graphs; the runtime expands phoneme states by their
durations in between (length regulation in numpy), then runs the decoder in chunks.

With `variance=True` (FastPitch-style) the encoder also predicts each phoneme's pitch and
energy and adds their embeddings to its states: from the true values in training, from its
own predictions at inference, inside the same graph, so the runtime interface is unchanged.
"""

import torch
from torch import nn
from torch.nn import functional as F

from edgevc.audio.params import EMBEDDING_DIM, SYNTH_MEL
from edgevc.export.models.layers import ConvStack
from edgevc.text.symbols import SYMBOLS


class VariancePredictor(nn.Module):
    """Two convolutions over phoneme states -> one value per phoneme."""

    def __init__(self, dim: int, hidden: int = 256):
        super().__init__()
        self.c1 = nn.Conv1d(dim, hidden, 3, padding=1)
        self.n1 = nn.LayerNorm(hidden)
        self.c2 = nn.Conv1d(hidden, hidden, 3, padding=1)
        self.n2 = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, 1)
        self.dropout = 0.0  # training only (layers.set_dropout)

    def forward(self, x, mask=None):
        y = self._drop(self.n1(torch.relu(self.c1(x.transpose(1, 2)).transpose(1, 2))))
        if mask is not None:
            y = y * mask
        y = self._drop(self.n2(torch.relu(self.c2(y.transpose(1, 2)).transpose(1, 2))))
        return self.out(y).squeeze(-1)

    def _drop(self, y):
        return F.dropout(y, self.dropout, True) if self.training and self.dropout else y


DurationPredictor = VariancePredictor  # predicts log(1 + frames)


class AcousticModel(nn.Module):
    def __init__(self, n_symbols: int = len(SYMBOLS), dim: int = 192, hidden: int = 576,
                 spk_dim: int = EMBEDDING_DIM, n_mels: int = SYNTH_MEL.n_mels,
                 enc_dilations=(1, 2, 4, 1, 2, 4), dec_dilations=(1, 2, 4, 1, 2, 4),
                 variance: bool = False, film_rank: int = 0):
        super().__init__()
        self.config = dict(n_symbols=n_symbols, dim=dim, hidden=hidden, spk_dim=spk_dim,
                           n_mels=n_mels, enc_dilations=list(enc_dilations),
                           dec_dilations=list(dec_dilations), variance=variance,
                           film_rank=film_rank)
        self.embed = nn.Embedding(n_symbols, dim)
        self.spk_in = nn.Linear(spk_dim, dim)
        self.encoder = ConvStack(dim, hidden, 5, enc_dilations, cond_dim=spk_dim, film_rank=film_rank)
        self.duration = VariancePredictor(dim)
        if variance:
            self.pitch = VariancePredictor(dim, hidden=128)  # small: the bundle has a size budget
            self.energy = VariancePredictor(dim, hidden=128)
            self.pitch_embed = nn.Conv1d(1, dim, 3, padding=1)
            self.energy_embed = nn.Conv1d(1, dim, 3, padding=1)
        self.dec_spk = nn.Linear(spk_dim, dim)
        self.decoder = ConvStack(dim, hidden, 7, dec_dilations, cond_dim=spk_dim, film_rank=film_rank)
        self.dec_norm = nn.LayerNorm(dim)
        self.to_mel = nn.Linear(dim, n_mels)

    @property
    def decoder_receptive_radius(self) -> int:
        return self.decoder.receptive_radius

    def encode(self, ids, spk, mask=None):
        """ids (B, N), spk (B, S) -> states (B, N, dim), log-durations (B, N)."""
        h, logdur, _, _ = self.encode_with_variance(ids, spk, mask)
        return h, logdur

    def encode_with_variance(self, ids, spk, mask=None, pitch=None, energy=None):
        """Also the predicted normalised pitch and energy per phoneme (None without
        variance); `pitch`/`energy` (B, N), when given, replace the predictions in the states."""
        x = self.embed(ids) + self.spk_in(spk).unsqueeze(1)
        if mask is not None:
            x = x * mask
        h = self.encoder(x, spk, mask)
        logdur = self.duration(h, mask)
        if not self.config.get("variance"):
            return h, logdur, None, None
        p_hat, e_hat = self.pitch(h, mask), self.energy(h, mask)
        p = p_hat if pitch is None else pitch
        e = e_hat if energy is None else energy
        h = h + (self.pitch_embed(p.unsqueeze(1)) + self.energy_embed(e.unsqueeze(1))).transpose(1, 2)
        if mask is not None:
            h = h * mask
        return h, logdur, p_hat, e_hat

    def decode(self, frames, spk, mask=None):
        """frames (B, T, dim) expanded states -> mel (B, T, n_mels)."""
        x = frames + self.dec_spk(spk).unsqueeze(1)
        if mask is not None:
            x = x * mask
        x = self.decoder(x, spk, mask)
        return self.to_mel(self.dec_norm(x))


@torch.no_grad()
def low_rank_film_state(full: dict, rank: int, embeddings: torch.Tensor) -> dict:
    """A full-rank FiLM model's state dict rewritten for `film_rank=rank`, best where the
    speaker embeddings actually lie (reduced-rank regression): per stack, the blocks' FiLM
    outputs Y = E W^T over `embeddings` E are projected on their top-`rank` right singular
    vectors V, so the shared projection is V^T W and each block maps back with its rows of V.
    Exact for embeddings in a span of at most `rank` dimensions; used as is (factorize_film)
    or as the start of a fine-tune (train_acoustic --init)."""
    out = {k: v for k, v in full.items() if ".film." not in k}
    E = embeddings.float()
    for stack in ("encoder", "decoder"):
        n = sum(1 for k in full if k.startswith(f"{stack}.blocks.") and k.endswith(".film.weight"))
        W = torch.cat([full[f"{stack}.blocks.{i}.film.weight"].float() for i in range(n)])
        _, _, vh = torch.linalg.svd(E @ W.T, full_matrices=False)
        V = vh[:rank].T                                   # (n * 2 * dim, rank)
        out[f"{stack}.cond_proj.weight"] = V.T @ W        # (rank, spk_dim)
        for i, rows in enumerate(V.chunk(n)):
            out[f"{stack}.blocks.{i}.film.weight"] = rows.contiguous()
            out[f"{stack}.blocks.{i}.film.bias"] = full[f"{stack}.blocks.{i}.film.bias"].float()
    return out


def expand(states: torch.Tensor, durations: torch.Tensor, max_len: int | None = None):
    """Length regulation for a batch: repeat state i durations[i] times.
    states (B, N, D), durations (B, N) int -> (B, T, D), frame mask (B, T, 1)."""
    lens = durations.sum(1)
    T = int(max_len or lens.max())
    cum = durations.cumsum(1)  # (B, N)
    t = torch.arange(T, device=states.device)
    # index of the phoneme that covers frame t: number of cumulative ends <= t
    idx = (cum.unsqueeze(1) <= t.view(1, -1, 1)).sum(-1).clamp(max=states.shape[1] - 1)
    out = torch.gather(states, 1, idx.unsqueeze(-1).expand(-1, -1, states.shape[-1]))
    mask = (t.unsqueeze(0) < lens.unsqueeze(1)).unsqueeze(-1).float()
    return out * mask, mask
