"""Factorise a released acoustic model's speaker FiLM to low rank, without retraining.

    python -m edgevc.export.factorize_film --checkpoint export/checkpoints/acoustic.pt \
        --cache cache.npz --rank 64 -o acoustic_lowrank.pt

The twelve FiLM layers (256 x 384 weights each, 1.2 M parameters) become one 256 x rank
projection per stack and rank x 384 per block, fitted where the cache's speaker embeddings
lie (models/acoustic.py: low_rank_film_state). On the training speakers the model computes
what it did (the mel, duration, pitch and energy losses agree to 3 decimals at rank 32 and
above); the int8 bundle is 0.85 MB smaller at rank 64.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from edgevc.export.checkpoint_io import half_weights, read_weights
from edgevc.export.models.acoustic import AcousticModel
from edgevc.export.prepare import FeatureCache
from edgevc.export.train_acoustic import load_initial


def factorize(checkpoint: Path, embeddings: np.ndarray, rank: int) -> dict:
    """A release checkpoint of `checkpoint`'s model with its FiLM factorised to `rank`."""
    src = read_weights(checkpoint, "acoustic")
    if src.config.get("film_rank"):
        raise SystemExit(f"{checkpoint}: FiLM is already rank {src.config['film_rank']}")
    model = AcousticModel(**dict(src.config, film_rank=rank))
    load_initial(model, src.config, src.weights, torch.from_numpy(embeddings))
    return {"config": model.config, "step": src.step, "model": half_weights(model.state_dict())}


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, type=Path, help="release acoustic.pt (full-rank FiLM)")
    ap.add_argument("--cache", required=True, help="feature cache whose embeddings fit the factorisation")
    ap.add_argument("--rank", type=int, default=64)
    ap.add_argument("-o", "--out", required=True, type=Path)
    a = ap.parse_args(argv)
    for name, path in (("--checkpoint", a.checkpoint), ("--cache", Path(a.cache))):
        if not path.is_file():
            ap.error(f"{name} {path}: not found")
    emb = FeatureCache(a.cache).emb
    out = factorize(a.checkpoint, emb[np.isfinite(emb).all(axis=1)].astype(np.float32), a.rank)
    tmp = a.out.with_suffix(".tmp")
    torch.save(out, tmp)
    tmp.replace(a.out)


if __name__ == "__main__":
    main()
