"""Audio parameters shared by training, export and the runtime.

Synthesis: 16 kHz; 80-band log-mel at a 16 ms hop (1024-point FFT). The vocoder predicts
a 1024-point spectrum per frame and the runtime inverts it (iSTFT), so the network's work
is at frame rate (62.5 frames/s), not sample rate.

Speaker encoder: 40-band log-mel, 25 ms window, 10 ms hop, as in GE2E.
"""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MelParams:
    sample_rate: int
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    fmin: float
    fmax: float

    def to_dict(self) -> dict:
        return asdict(self)


SAMPLE_RATE = 16000

SYNTH_MEL = MelParams(sample_rate=SAMPLE_RATE, n_fft=1024, win_length=1024, hop_length=256,
                      n_mels=80, fmin=0.0, fmax=8000.0)

SPEAKER_MEL = MelParams(sample_rate=SAMPLE_RATE, n_fft=512, win_length=400, hop_length=160,
                        n_mels=40, fmin=0.0, fmax=8000.0)

# Speaker encoder windows: 1.6 s of 10 ms frames, hopped by half for enrollment.
SPEAKER_WINDOW_FRAMES = 160
SPEAKER_WINDOW_HOP = 80
EMBEDDING_DIM = 256
