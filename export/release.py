"""Collect finished training runs into release checkpoints that `edgevc export` reads.

    python -m edgevc.export.release --encoder-run runs/encoder --acoustic-run runs/acoustic \
        --vocoder-run runs/vocoder --cache cache.npz --default-speaker kathleen -o export/checkpoints

Writes speaker_encoder.pt, acoustic.pt, vocoder.pt (weights and config, no optimizer state)
and default_speaker.npy: the mean conditioning embedding of the named speaker.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from edgevc.export.checkpoint_io import DEFAULT_SPEAKER
from edgevc.export.prepare import FeatureCache



def release_run(run: Path, key: str, dst: Path) -> None:
    state = torch.load(Path(run) / "last.pt", map_location="cpu", weights_only=True)
    # fp16 halves what the repository and the wheel carry; export loads it back as fp32.
    weights = {k: v.half() if v.is_floating_point() else v for k, v in state["model"][key].items()}
    out = {"config": state["config"][key], "step": state["step"], "model": weights}
    tmp = dst.with_suffix(".tmp")
    torch.save(out, tmp)
    tmp.replace(dst)


def default_speaker(cache: FeatureCache, speaker: str) -> np.ndarray:
    rows = cache.emb[cache.spk == speaker]
    rows = rows[np.isfinite(rows).all(axis=1)]
    if not len(rows):
        raise SystemExit(f"no utterances of speaker {speaker!r} in the cache")
    v = rows.mean(axis=0)
    return (v / np.linalg.norm(v)).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder-run", required=True)
    ap.add_argument("--acoustic-run", required=True)
    ap.add_argument("--vocoder-run", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--default-speaker", required=True)
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    release_run(Path(a.encoder_run), "speaker_encoder", out / "speaker_encoder.pt")
    release_run(Path(a.acoustic_run), "acoustic", out / "acoustic.pt")
    release_run(Path(a.vocoder_run), "vocoder", out / "vocoder.pt")
    with open(out / DEFAULT_SPEAKER, "wb") as f:
        np.save(f, default_speaker(FeatureCache(a.cache), a.default_speaker), allow_pickle=False)


if __name__ == "__main__":
    main()
