"""Train the acoustic model on a feature cache and the aligner's durations.

    python -m edgevc.export.train_acoustic --cache cache.npz --durations durations.npz \
        --run runs/acoustic --steps 20000

Conditioning is the GE2E embedding of each utterance (what the runtime's speaker encoder
approximates), lightly noised so the model leans on the voice, not on one recording.
Losses: mel L1 and log-duration MSE. Resumes from RUN/last.pt.
"""

import argparse
import logging

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from edgevc.export.batching import LengthBatcher, lengths_mask, pad, transcribed_indices
from edgevc.export.models.acoustic import AcousticModel, expand
from edgevc.export.prepare import FeatureCache
from edgevc.export.training import Run, pick_device

log = logging.getLogger(__name__)


def load_durations(path: str, cache: FeatureCache):
    z = np.load(path, allow_pickle=False)
    if not np.array_equal(z["utt"], cache.utt):
        raise SystemExit(f"{path}: durations were made from a different cache")
    off = z["dur_off"]
    return [z["dur"][off[i]:off[i + 1]].astype(np.int64) for i in range(len(cache))]


def make_batch(cache, durs, idx, rng, emb_noise=0.05):
    ids, n_text = pad([cache.ids(i) for i in idx])
    dur, _ = pad([durs[i] for i in idx])
    mel, n_mel = pad([cache.mel(i) for i in idx])
    emb = cache.emb[idx] + rng.normal(0, emb_noise, (len(idx), cache.emb.shape[1]))
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    return ids, dur, mel, n_text, n_mel, torch.from_numpy(emb.astype(np.float32))


def losses(model, batch, dev):
    ids, dur, mel, n_text, n_mel, spk = [t.to(dev) for t in batch]
    tmask = lengths_mask(n_text).unsqueeze(-1).to(dev)
    h, logdur = model.encode(ids, spk, tmask)
    dur_loss = (F.mse_loss(logdur, torch.log1p(dur.float()), reduction="none")
                * tmask[..., 0]).sum() / tmask.sum()
    frames, fmask = expand(h, dur, max_len=mel.shape[1])
    pred = model.decode(frames, spk, fmask)
    mel_loss = (F.l1_loss(pred, mel, reduction="none") * fmask).sum() / (fmask.sum() * mel.shape[-1])
    return mel_loss, dur_loss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--durations", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--max-frames", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--save-every", type=int, default=200)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = pick_device()
    cache = FeatureCache(a.cache)
    durs = load_durations(a.durations, cache)
    ok = [i for i in transcribed_indices(cache) if durs[i].sum() == len(cache.mel(i))]
    batcher = LengthBatcher(cache, np.array(ok), a.max_frames)
    model = AcousticModel(dim=a.dim, hidden=3 * a.dim).to(dev)
    opt = torch.optim.AdamW(model.parameters(), a.lr, betas=(0.9, 0.98), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 500) * max(0.1, 1 - s / a.steps))
    run = Run(a.run)
    step = run.resume({"acoustic": model}, {"opt": opt, "sched": sched})
    rng = np.random.default_rng(step)
    bar = tqdm(total=a.steps, initial=step, desc="acoustic", unit="step")
    while step < a.steps:
        mel_loss, dur_loss = losses(model, make_batch(cache, durs, batcher.sample(), rng), dev)
        loss = mel_loss + 0.5 * dur_loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        bar.update(1)
        bar.set_postfix(mel=f"{mel_loss.item():.3f}", dur=f"{dur_loss.item():.3f}")
        if step % 20 == 0:
            run.log(step, mel=mel_loss.item(), dur=dur_loss.item())
        if step % a.save_every == 0 or step == a.steps:
            run.save(step, {"acoustic": model}, {"opt": opt, "sched": sched},
                     {"acoustic": model.config})
    bar.close()


if __name__ == "__main__":
    main()
