"""Train the acoustic model on a feature cache and the aligner's durations.

    python -m edgevc.export.train_acoustic --cache cache.npz --durations durations.npz \
        --run runs/acoustic --steps 20000

Conditioning is the GE2E embedding of each utterance (what the runtime's speaker encoder
approximates), lightly noised so the model leans on the voice, not on one recording.
Losses: mel L1 and log-duration MSE. Resumes from RUN/last.pt.
"""

import logging

import numpy as np
import torch
from torch.nn import functional as F

from edgevc.export.batching import LengthBatcher, lengths_mask, pad, transcribed_indices
from edgevc.export.models.acoustic import AcousticModel, expand
from edgevc.export.prepare import FeatureCache
from edgevc.export.training import Progress, Run, arg_parser, setup, warmup_then_decay

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
    ap = arg_parser(__doc__, steps=20000, lr=1e-3)
    ap.add_argument("--durations", required=True, help="durations from train_aligner --extract")
    ap.add_argument("--max-frames", type=int, default=3000, help="mel frames per batch")
    ap.add_argument("--dim", type=int, default=192, help="model width (new runs only)")
    a = ap.parse_args()
    dev = setup(a)
    cache = FeatureCache(a.cache)
    durs = load_durations(a.durations, cache)
    ok = [i for i in transcribed_indices(cache) if durs[i].sum() == len(cache.mel(i))]
    batcher = LengthBatcher(cache, np.array(ok), a.max_frames)
    model = AcousticModel(dim=a.dim, hidden=3 * a.dim).to(dev)
    opt = torch.optim.AdamW(model.parameters(), a.lr, betas=(0.9, 0.98), weight_decay=0.01)
    sched = warmup_then_decay(opt, 500, a.steps, 0.1)
    run = Run(a.run)
    step = run.resume({"acoustic": model}, {"opt": opt, "sched": sched})
    rng = np.random.default_rng(step)  # a resumed run draws new batches
    progress = Progress(run, a.steps, step, "acoustic", save_every=a.save_every,
                        save=lambda n: run.save(n, {"acoustic": model}, {"opt": opt, "sched": sched},
                                                {"acoustic": model.config}))
    while progress.running:
        mel_loss, dur_loss = losses(model, make_batch(cache, durs, batcher.sample(), rng), dev)
        loss = mel_loss + 0.5 * dur_loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        progress.step(mel=mel_loss.item(), dur=dur_loss.item())


if __name__ == "__main__":
    main()
