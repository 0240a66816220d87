"""Small signal helpers used by enrollment (device) and data preparation (host)."""

import numpy as np

from edgevc.audio.params import SAMPLE_RATE


def voiced_span(wav: np.ndarray, top_db: float = 40.0, frame: int = 320,
                floor_db: float = -60.0) -> tuple[int, int] | None:
    """(start, end) of the audio louder than `top_db` below its loudest 20 ms frame and
    above an absolute floor (dBFS); None if nothing is."""
    n = len(wav) // frame
    if n == 0:
        return None
    energy = (wav[: n * frame].reshape(n, frame).astype(np.float64) ** 2).mean(axis=1)
    db = 10 * np.log10(energy + 1e-12)
    voiced = np.nonzero((db > db.max() - top_db) & (db > floor_db))[0]
    if len(voiced) == 0:
        return None
    return int(voiced[0] * frame), int((voiced[-1] + 1) * frame)


def trim_silence(wav: np.ndarray, top_db: float = 40.0, margin_s: float = 0.1) -> np.ndarray:
    """Cut leading and trailing silence, keeping `margin_s` of it on each side."""
    span = voiced_span(wav, top_db)
    if span is None:
        return wav[:0]
    margin = int(margin_s * SAMPLE_RATE)
    return wav[max(0, span[0] - margin):min(len(wav), span[1] + margin)]


def normalize_peak(wav: np.ndarray, peak: float = 0.9) -> np.ndarray:
    m = float(np.abs(wav).max()) if len(wav) else 0.0
    return wav * (peak / m) if m > 0 else wav
