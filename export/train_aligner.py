"""Learn phoneme/frame alignment on a transcribed feature cache, then write durations.

    python -m edgevc.export.train_aligner --cache cache.npz --run runs/aligner --steps 1500
    python -m edgevc.export.train_aligner --cache cache.npz --run runs/aligner --extract durations.npz
"""

import logging

import numpy as np
import torch
from tqdm import tqdm

from edgevc.export.batching import LengthBatcher, lengths_mask, pad, transcribed_indices
from edgevc.export.models.aligner import (
    Aligner,
    beta_binomial_prior,
    forward_sum_loss,
    monotonic_alignment,
)
from edgevc.export.prepare import FeatureCache
from edgevc.export.training import Progress, Run, arg_parser, setup

log = logging.getLogger(__name__)


def batch_tensors(cache, idx):
    ids, n_text = pad([cache.ids(i) for i in idx])
    mel, n_mel = pad([cache.mel(i) for i in idx])
    prior = np.full((len(idx), mel.shape[1], ids.shape[1]), -1e4, np.float32)
    for b, (n, t) in enumerate(zip(n_text.tolist(), n_mel.tolist())):
        prior[b, :t, :n] = beta_binomial_prior(n, t)
    return ids, mel, n_text, n_mel, torch.from_numpy(prior)


def extract(cache: FeatureCache, model: Aligner, out: str) -> None:
    """Durations for every transcribed utterance, aligned with the cache's `ids`."""
    model.eval()
    durs = [np.zeros(len(cache.ids(i)), np.int32) for i in range(len(cache))]
    for i in tqdm(transcribed_indices(cache), desc="durations", unit="utt"):
        ids, mel, n_text, _n_mel, prior = batch_tensors(cache, [i])
        with torch.no_grad():
            log_attn = model(ids, mel, lengths_mask(n_text), prior)[0].numpy()
        durs[i] = monotonic_alignment(log_attn).astype(np.int32)
    np.savez(out, dur=np.concatenate(durs), dur_off=cache.z["ids_off"], utt=cache.utt)
    log.info("wrote %s", out)


def main(argv: list[str] | None = None):
    ap = arg_parser(__doc__, steps=1500, lr=1e-3)
    ap.add_argument("--max-frames", type=int, default=6000, help="mel frames per batch")
    ap.add_argument("--extract", metavar="OUT.npz", help="write durations and exit")
    a = ap.parse_args(argv)
    dev = setup(a)
    cache = FeatureCache(a.cache)
    model = Aligner().to(dev)
    opt = torch.optim.Adam(model.parameters(), a.lr)
    run = Run(a.run)
    step = run.resume({"aligner": model}, {"opt": opt})
    if a.extract:
        extract(cache, model.cpu(), a.extract)
        return
    batcher = LengthBatcher(cache, transcribed_indices(cache), a.max_frames)
    progress = Progress(run, a.steps, step, "aligner", save_every=a.save_every, stop_at=a.stop_at, log_every=10,
                        save=lambda n: run.save(n, {"aligner": model}, {"opt": opt},
                                                {"aligner": model.config}))
    while progress.running:
        ids, mel, n_text, n_mel, prior = batch_tensors(cache, batcher.sample())
        log_attn = model(ids.to(dev), mel.to(dev), lengths_mask(n_text).to(dev), prior.to(dev))
        loss = forward_sum_loss(log_attn, n_text, n_mel)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        progress.step(ctc=loss.item())


if __name__ == "__main__":
    main()
