"""Distil the student speaker encoder from the GE2E teacher embeddings in a feature cache.

    python -m edgevc.export.train_speaker_encoder --cache cache.npz --run runs/encoder --steps 4000

Targets are the teacher's embeddings of 1.6 s windows (stored by `prepare`); the student
sees the runtime's own 40-band log-mel of the same audio. No labels needed. Loss: 1 - cos.
Resumes from RUN/last.pt; `--init` starts a new run from a release checkpoint.
"""

import logging

import numpy as np
import torch
from tqdm import tqdm

from edgevc.audio.features import log_mel
from edgevc.audio.params import SPEAKER_MEL, SPEAKER_WINDOW_FRAMES, SPEAKER_WINDOW_HOP
from edgevc.export.checkpoint_io import load_model_or_exit
from edgevc.export.models.speaker_encoder import SpeakerEncoder
from edgevc.export.prepare import FeatureCache
from edgevc.export.training import Progress, Run, arg_parser, saved_config, setup, warmup_then_decay

log = logging.getLogger(__name__)


class WindowSet:
    """(student input window, teacher embedding) pairs over every cached utterance."""

    def __init__(self, cache: FeatureCache, utts=None):
        self.mels, self.items, self.targets = [], [], []
        for i in tqdm(range(len(cache)) if utts is None else utts, desc="windows", unit="utt"):
            win = cache.win_emb(i)
            if not len(win):
                continue
            mel = log_mel(cache.wav(i), SPEAKER_MEL)
            u = len(self.mels)
            self.mels.append(mel)
            for k, emb in enumerate(win):
                s = k * SPEAKER_WINDOW_HOP
                if s + SPEAKER_WINDOW_FRAMES <= len(mel):
                    self.items.append((u, s))
                    self.targets.append(emb / np.linalg.norm(emb))
        self.targets = np.stack(self.targets).astype(np.float32)

    def batch(self, rng, size):
        pick = rng.integers(0, len(self.items), size)
        x = np.stack([self.mels[self.items[j][0]][self.items[j][1]:self.items[j][1] + SPEAKER_WINDOW_FRAMES]
                      for j in pick])
        return torch.from_numpy(x), torch.from_numpy(self.targets[pick])


def train(run: Run, data: WindowSet, steps: int, lr: float, batch: int, dev,
          init: SpeakerEncoder | None = None, save_every: int = 200) -> SpeakerEncoder:
    """Train (or resume) the student in `run` to `steps`: 1 - cos to the teacher's windows.
    `init`: the model a new run starts from (else a new attentive-pooling encoder)."""
    if init is not None and not run.ckpt.exists():
        model = init.train().to(dev)
    else:
        model = SpeakerEncoder(**saved_config(run, "speaker_encoder", {"pooling": "attentive"})).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr, weight_decay=0.01)
    sched = warmup_then_decay(opt, 200, steps, 0.05)
    step = run.resume({"speaker_encoder": model}, {"opt": opt, "sched": sched})
    rng = np.random.default_rng(step)
    progress = Progress(run, steps, step, "encoder", save_every=save_every,
                        save=lambda n: run.save(n, {"speaker_encoder": model},
                                                {"opt": opt, "sched": sched},
                                                {"speaker_encoder": model.config}))
    while progress.running:
        x, target = data.batch(rng, batch)
        cos = (model(x.to(dev)) * target.to(dev)).sum(-1).mean()
        loss = 1 - cos
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        progress.step(cos=cos.item())
    return model.eval()


def main():
    ap = arg_parser(__doc__, steps=4000, lr=2e-3)
    ap.add_argument("--batch", type=int, default=64, help="windows per batch")
    ap.add_argument("--init", help="a new run starts from this release checkpoint's weights")
    a = ap.parse_args()
    dev = setup(a)
    data = WindowSet(FeatureCache(a.cache))
    log.info("%d teacher windows", len(data.items))
    run = Run(a.run)
    init = load_model_or_exit(a.init, "speaker_encoder") if a.init and not run.ckpt.exists() else None
    train(run, data, a.steps, a.lr, a.batch, dev, init, a.save_every)


if __name__ == "__main__":
    main()
