"""The acoustic model's own mels, time-aligned with the recordings, for vocoder fine-tuning.

    python -m edgevc.export.gta_mels --cache cache.npz --durations durations.npz \
        [--acoustic export/checkpoints/acoustic.pt] -o gta.npz
    python -m edgevc.export.train_vocoder --cache cache.npz --input-mels gta.npz \
        --init export/checkpoints/vocoder.pt --run runs/vocoder_gta ...

"Ground-truth-aligned" synthesis: each transcribed utterance goes through the acoustic
model with the aligner's durations and the recording's own pitch and energy, so frame t
of its mel describes the same instant as frame t of the recording, but in the acoustic
model's (smoother) manner. A vocoder trained only on real mels meets these at run time;
fine-tuned on them against the real audio, it learns to make up what they lack.
Untranscribed utterances keep their real mels. Saved with np.savez (no pickle).
"""

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from edgevc.export.checkpoint_io import load_model_or_exit, shipped_dir
from edgevc.export.models.acoustic import expand
from edgevc.export.prepare import FeatureCache
from edgevc.export.train_acoustic import VarianceTargets, load_durations

log = logging.getLogger(__name__)


@torch.no_grad()
def aligned_mel(model, cache: FeatureCache, durs, targets, i: int) -> np.ndarray:
    n = len(cache.mel(i))
    ids = torch.from_numpy(cache.ids(i))[None]
    spk = torch.from_numpy(cache.emb[i:i + 1].astype(np.float32))
    pitch = energy = None
    if targets is not None:
        pitch = torch.from_numpy(targets.pitch[i])[None]
        energy = torch.from_numpy(targets.energy[i])[None]
    h, _, _, _ = model.encode_with_variance(ids, spk, None, pitch, energy)
    frames, mask = expand(h, torch.from_numpy(durs[i])[None], max_len=n)
    return model.decode(frames, spk, mask)[0].numpy()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--durations", required=True, help="from train_aligner --extract")
    ap.add_argument("--acoustic", type=Path, default=shipped_dir() / "acoustic.pt")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(a.threads)
    for name, path in (("cache", a.cache), ("durations", a.durations)):
        if not Path(path).is_file():
            raise SystemExit(f"error: {name} {path}: not found")
    model = load_model_or_exit(a.acoustic, "acoustic")
    cache = FeatureCache(a.cache)
    durs = load_durations(a.durations, cache)
    usable = [i for i in range(len(cache)) if cache.has_text(i) and len(durs[i]) == len(cache.ids(i))
              and int(durs[i].sum()) == len(cache.mel(i))]
    targets = VarianceTargets(cache, durs, usable) if model.config.get("variance") else None
    mels = [cache.mel(i) for i in range(len(cache))]
    for i in tqdm(usable, desc="aligned mels", unit="utt"):
        mels[i] = aligned_mel(model, cache, durs, targets, i)
    off = np.cumsum([0] + [len(m) for m in mels]).astype(np.int64)
    np.savez(a.out, utt=cache.utt, mel=np.concatenate(mels).astype(np.float16), mel_off=off)
    log.info("wrote %s: %d of %d utterances with the acoustic model's mels", a.out, len(usable), len(cache))


if __name__ == "__main__":
    main()
