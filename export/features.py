"""Torch log-mel that matches edgevc.audio.features (same filterbank and framing)."""

import torch
from torch import nn

from edgevc.audio.features import LOG_FLOOR, analysis_window, mel_filterbank
from edgevc.audio.params import SYNTH_MEL, MelParams


class LogMel(nn.Module):
    def __init__(self, params: MelParams = SYNTH_MEL):
        super().__init__()
        self.p = params
        self.register_buffer("fb", torch.from_numpy(mel_filterbank(params).copy()))
        self.register_buffer("window", torch.from_numpy(analysis_window(params).copy()))

    def spectrum(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, L) -> complex STFT (B, bins, frames), frames = L // hop + 1 (centred)."""
        return torch.stft(wav, self.p.n_fft, self.p.hop_length, window=self.window,
                          center=True, pad_mode="reflect", return_complex=True)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, L) -> (B, frames, n_mels)."""
        spec = self.spectrum(wav).abs()
        return torch.log(torch.clamp(torch.einsum("mf,bft->btm", self.fb, spec), min=LOG_FLOOR))


def istft(real: torch.Tensor, imag: torch.Tensor, length: int, params: MelParams = SYNTH_MEL):
    """(B, T, bins) complex spectrum -> (B, length) waveform; the runtime's numpy iSTFT
    does the same overlap-add with the same window."""
    spec = torch.complex(real, imag).transpose(1, 2)
    window = torch.from_numpy(analysis_window(params).copy()).to(real.device)
    return torch.istft(spec, params.n_fft, params.hop_length, window=window, center=True,
                       length=length)
