"""Streaming inverse STFT: the vocoder's per-frame spectra -> waveform, chunk by chunk.

Matches torch.istft(center=True, length=frames * hop) with the same window, and gives
the same samples whether frames arrive all at once or in chunks (each output sample is
the same sum of the same frames, added in the same order).
"""

import numpy as np

from edgevc.audio.features import analysis_window
from edgevc.audio.params import MelParams

BLOCK_FRAMES = 32


class StreamingISTFT:
    def __init__(self, params: MelParams):
        self.n_fft, self.hop = params.n_fft, params.hop_length
        self.window = analysis_window(params).astype(np.float64)
        self.wsq = self.window ** 2
        # Positions are in the centre-padded signal; output sample j is position j + n_fft/2.
        self.start = 0                      # position of buf[0]
        self.emitted = self.n_fft // 2      # positions below this were returned
        self.frames = 0
        self.sig = np.zeros(self.n_fft)
        self.env = np.zeros(self.n_fft)

    def push(self, real: np.ndarray, imag: np.ndarray) -> np.ndarray:
        """Add frames (k, n_fft/2+1); return the samples no later frame can change."""
        if len(real) <= BLOCK_FRAMES:
            return self._push(real, imag)
        # Large chunks in blocks: the float64 temporaries stay the size of one block.
        return np.concatenate([self._push(real[i:i + BLOCK_FRAMES], imag[i:i + BLOCK_FRAMES])
                               for i in range(0, len(real), BLOCK_FRAMES)])

    def _push(self, real: np.ndarray, imag: np.ndarray) -> np.ndarray:
        k = len(real)
        if k == 0:
            return np.zeros(0, np.float32)
        frames = np.fft.irfft(real.astype(np.float64) + 1j * imag.astype(np.float64),
                              n=self.n_fft, axis=1) * self.window
        end = (self.frames + k - 1) * self.hop + self.n_fft
        if end - self.start > len(self.sig):
            grow = end - self.start - len(self.sig)
            self.sig = np.concatenate([self.sig, np.zeros(grow)])
            self.env = np.concatenate([self.env, np.zeros(grow)])
        for i in range(k):
            p = (self.frames + i) * self.hop - self.start
            self.sig[p:p + self.n_fft] += frames[i]
            self.env[p:p + self.n_fft] += self.wsq
        self.frames += k
        return self._emit(self.frames * self.hop)

    def finish(self) -> np.ndarray:
        """The rest: the output is frames * hop samples long in all."""
        return self._emit(self.frames * self.hop + self.n_fft // 2)

    def _emit(self, upto: int) -> np.ndarray:
        lo = self.emitted
        if upto <= lo:
            return np.zeros(0, np.float32)
        a, b = lo - self.start, upto - self.start
        env = self.env[a:b]
        out = self.sig[a:b] / np.where(env > 1e-11, env, 1.0)
        self.emitted = upto
        # Drop what is returned so memory stays bounded by one chunk plus one window.
        self.sig, self.env, self.start = self.sig[b:].copy(), self.env[b:].copy(), upto
        return out.astype(np.float32)
