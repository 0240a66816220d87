"""Mini-batches of transcribed utterances from a feature cache, padded, with masks."""

import numpy as np
import torch

from edgevc.export.prepare import FeatureCache


def transcribed_indices(cache: FeatureCache, max_frames: int = 1200) -> np.ndarray:
    mel_len = np.diff(cache.z["mel_off"])
    ids_len = np.diff(cache.z["ids_off"])
    return np.nonzero((ids_len > 0) & (mel_len <= max_frames) & (mel_len > ids_len))[0]


class LengthBatcher:
    """Random batches of utterances of similar length (less padding), up to `max_frames`
    mel frames per batch."""

    def __init__(self, cache: FeatureCache, indices: np.ndarray, max_frames: int = 4000,
                 seed: int = 0):
        self.cache = cache
        self.idx = np.asarray(indices)
        self.len = np.diff(cache.z["mel_off"])[self.idx]
        self.max_frames = max_frames
        self.rng = np.random.default_rng(seed)

    def sample(self) -> np.ndarray:
        order = np.argsort(self.len + self.rng.uniform(0, 40, len(self.len)))
        start = int(self.rng.integers(0, len(order)))
        chosen, longest = [], 0
        for j in list(order[start:]) + list(order[:start]):
            longest = max(longest, self.len[j])
            if chosen and longest * (len(chosen) + 1) > self.max_frames:
                break
            chosen.append(j)
        return self.idx[chosen]


def pad(arrays, value=0):
    n = max(len(a) for a in arrays)
    out = np.full((len(arrays), n, *arrays[0].shape[1:]), value, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return torch.from_numpy(out), torch.tensor([len(a) for a in arrays])


def lengths_mask(lengths, n=None):
    n = int(n or lengths.max())
    return (torch.arange(n).unsqueeze(0) < lengths.unsqueeze(1)).float()
