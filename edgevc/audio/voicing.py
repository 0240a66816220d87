"""The voicing model and the hybrid's settings: data a bundle carries and the excitation
phase (edgevc/audio/excitation.py) runs. Kept apart from the DSP so that the bundle format
(edgevc/runtime/bundle.py) can read and check them without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HYBRID_BAND_HZ = 1000.0  # where the hybrid stops taking the excitation's phase
# The hybrid calls a frame voiced only past this logit: the voicing model calls 15% of
# unvoiced frames voiced, and such a frame loses its consonant to the pulse train. 1.5 kept
# the vocoder phase's WER on 66 held-out sentences (0 lost 3.5 points; see the README).
HYBRID_MARGIN = 1.5


@dataclass(frozen=True)
class VoicingModel:
    """Logistic voiced/unvoiced decision over voicing_features: voiced where w.x + b > 0."""
    weights: np.ndarray
    bias: float

    @classmethod
    def from_dict(cls, d: dict, n_mels: int) -> VoicingModel:
        w = np.asarray(d["weights"], dtype=np.float64)
        if w.shape != (n_mels + 2,) or not np.isfinite(w).all() or not np.isfinite(d["bias"]):
            raise ValueError(f"voicing weights: expected {n_mels + 2} finite numbers, got shape {w.shape}")
        return cls(w, float(d["bias"]))

    def to_dict(self) -> dict:
        return {"weights": [float(x) for x in self.weights], "bias": float(self.bias)}

    def voiced(self, features: np.ndarray, margin: float = 0.0) -> np.ndarray:
        return features @ self.weights + self.bias > margin
