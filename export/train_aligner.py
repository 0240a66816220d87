"""Learn phoneme/frame alignment on a transcribed feature cache, then write durations.

    python -m edgevc.export.train_aligner --cache cache.npz --run runs/aligner --steps 1500
    python -m edgevc.export.train_aligner --cache cache.npz --run runs/aligner --extract durations.npz
"""

import argparse
import logging

import numpy as np
import torch
from tqdm import tqdm

from edgevc.export.batching import LengthBatcher, lengths_mask, pad, transcribed_indices
from edgevc.export.models.aligner import (Aligner, beta_binomial_prior, forward_sum_loss,
                                          monotonic_alignment)
from edgevc.export.prepare import FeatureCache
from edgevc.export.training import Run, pick_device

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
        ids, mel, n_text, n_mel, prior = batch_tensors(cache, [i])
        with torch.no_grad():
            log_attn = model(ids, mel, lengths_mask(n_text), prior)[0].numpy()
        durs[i] = monotonic_alignment(log_attn).astype(np.int32)
    np.savez(out, dur=np.concatenate(durs), dur_off=cache.z["ids_off"], utt=cache.utt)
    log.info("wrote %s", out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--max-frames", type=int, default=6000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--extract", metavar="OUT.npz", help="write durations and exit")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = pick_device()
    cache = FeatureCache(a.cache)
    model = Aligner().to(dev)
    opt = torch.optim.Adam(model.parameters(), a.lr)
    run = Run(a.run)
    step = run.resume({"aligner": model}, {"opt": opt})
    if a.extract:
        extract(cache, model.cpu(), a.extract)
        return
    batcher = LengthBatcher(cache, transcribed_indices(cache), a.max_frames)
    bar = tqdm(total=a.steps, initial=step, desc="aligner", unit="step")
    while step < a.steps:
        ids, mel, n_text, n_mel, prior = batch_tensors(cache, batcher.sample())
        log_attn = model(ids.to(dev), mel.to(dev), lengths_mask(n_text).to(dev), prior.to(dev))
        loss = forward_sum_loss(log_attn, n_text, n_mel)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % 10 == 0:
            run.log(step, ctc=loss.item())
        if step % 100 == 0 or step == a.steps:
            run.save(step, {"aligner": model}, {"opt": opt}, {"aligner": model.config})
    bar.close()


if __name__ == "__main__":
    main()
