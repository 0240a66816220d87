"""Train the mel speaker judge: a small network that reads the acoustic model's own mel
(80-band SYNTH_MEL log-mel) and predicts the GE2E teacher's embedding of the same audio.
`train_acoustic --speaker-loss W --speaker-judge RUN/last.pt` applies it, frozen, to the
predicted mel: the runtime's speaker encoder reads a different (40-band) mel and cannot.

    python -m edgevc.export.train_speaker_judge --cache cache.npz --run runs/judge --steps 3000

The model is the student speaker encoder's (export/models/speaker_encoder.py) on 80 bands,
with plain mean+std pooling, so it reads any length from 32 frames (0.5 s) up, and one gain
subtracted from its input, so it is deaf to loudness.

Targets are the cache's per-window teacher embeddings. Window k of an utterance covers
samples [12800k, 12800k + 25600) (export/speaker_teacher.py), which are exactly SYNTH_MEL
frames [50k, 50k + 100) (hop 256, centred frames); an utterance shorter than 1.6 s has one
window, the whole of it, whose target is the utterance's embedding. Each batch is cut to
one length, the full 100 frames half the time and 32-100 otherwise, from a random offset in
its windows, so the judge also learns the short crops the speaker loss shows it. Loss 1 - cos.

`--val-share` of the utterances (by a hash of their id) are held out; at each checkpoint
RUN/val.csv gets the mean cosine over their windows and the speaker top-1: each held-out
utterance (the mean of its windows' embeddings) against the centroid of the teacher's
utterance embeddings of every speaker with a held-out utterance; the log also gives the
teacher's own top-1 against the same centroids, the ceiling. Resumes from RUN/last.pt.
"""

import csv
import hashlib
import logging

import numpy as np
import torch

from edgevc.audio.params import SPEAKER_MEL, SPEAKER_WINDOW_HOP, SYNTH_MEL
from edgevc.export.checkpoint_io import read_weights
from edgevc.export.models.speaker_encoder import SpeakerEncoder
from edgevc.export.prepare import FeatureCache
from edgevc.export.speaker_teacher import WINDOW_SAMPLES
from edgevc.export.training import Progress, Run, arg_parser, saved_config, setup, warmup_then_decay

log = logging.getLogger(__name__)

KEY = "speaker_judge"  # the model's key in RUN/last.pt
WINDOW = WINDOW_SAMPLES // SYNTH_MEL.hop_length  # 100 frames: one teacher window
WINDOW_HOP = SPEAKER_WINDOW_HOP * SPEAKER_MEL.hop_length // SYNTH_MEL.hop_length  # 50 frames
MIN_FRAMES = 32  # prepare keeps utterances of 0.5 s (31 frames) and more
assert WINDOW * SYNTH_MEL.hop_length == WINDOW_SAMPLES
assert WINDOW_HOP * SYNTH_MEL.hop_length == SPEAKER_WINDOW_HOP * SPEAKER_MEL.hop_length


def new_judge(dim: int = 128) -> SpeakerEncoder:
    return SpeakerEncoder(n_mels=SYNTH_MEL.n_mels, dim=dim, hidden=3 * dim, pooling="stats",
                          input_norm="gain")


def held_out(utt_id: str, share: float) -> bool:
    h = hashlib.sha256(b"speaker-judge:" + utt_id.encode()).digest()
    return int.from_bytes(h[:4], "big") / 2 ** 32 < share


class JudgeWindows:
    """The teacher's windows of some utterances as (first row in the cache's packed mel,
    frames, target) items; batches are cut from the packed mel without copying it whole."""

    def __init__(self, cache: FeatureCache, utts):
        self.mel = cache.z["mel"]  # (all frames, 80) float16
        offsets = cache.z["mel_off"]
        start, length, target, owner = [], [], [], []
        for i in utts:
            n = int(offsets[i + 1] - offsets[i])
            for k, emb in enumerate(cache.win_emb(i)):
                s = k * WINDOW_HOP
                end = min(s + WINDOW, n)
                # a full window, or the one window of an utterance shorter than 1.6 s
                if (end - s == WINDOW or k == 0) and end - s >= MIN_FRAMES:
                    start.append(offsets[i] + s)
                    length.append(end - s)
                    target.append(emb / np.linalg.norm(emb))
                    owner.append(i)
        if not start:
            raise SystemExit("error: no speaker windows of 32 frames or more in these utterances")
        self.start, self.length = np.array(start, np.int64), np.array(length, np.int64)
        self.target = np.stack(target).astype(np.float32)
        self.owner = np.array(owner)

    def __len__(self):
        return len(self.start)

    def cut(self, items, length: int, offsets) -> torch.Tensor:
        rows = self.start[items, None] + offsets[:, None] + np.arange(length)
        return torch.from_numpy(self.mel[rows].astype(np.float32))

    def batch(self, rng, size: int):
        """(mel (size, L, 80), targets (size, 256)): one random length L per batch."""
        length = WINDOW if rng.random() < 0.5 else int(rng.integers(MIN_FRAMES, WINDOW + 1))
        pick = rng.choice(np.nonzero(self.length >= length)[0], size)
        offsets = rng.integers(0, self.length[pick] - length + 1)
        return self.cut(pick, length, offsets), torch.from_numpy(self.target[pick])


@torch.no_grad()
def embed_windows(judge, windows: JudgeWindows, dev, chunk: int = 64) -> np.ndarray:
    """The judge's embedding of every item, whole, batched by length."""
    was_training = judge.training
    judge.eval()
    out = np.zeros_like(windows.target)
    for length in np.unique(windows.length):
        items = np.nonzero(windows.length == length)[0]
        for c in range(0, len(items), chunk):
            part = items[c:c + chunk]
            x = windows.cut(part, int(length), np.zeros(len(part), np.int64))
            out[part] = judge(x.to(dev)).cpu().numpy()
    judge.train(was_training)
    return out


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def speaker_top1(cache: FeatureCache, utts, utt_emb: np.ndarray) -> float:
    """Share of `utts` whose embedding (rows of `utt_emb`) is nearest, by cosine, to its own
    speaker's centroid among those of the speakers of `utts`; a centroid is the mean of the
    teacher's embeddings of all the speaker's utterances in the cache."""
    speakers = sorted(set(cache.spk[utts]))
    centroids = unit(np.stack([cache.emb[cache.spk == s].mean(0) for s in speakers]))
    guess = np.array(speakers)[(unit(utt_emb) @ centroids.T).argmax(1)]
    return float((guess == cache.spk[utts]).mean())


def validate(judge, cache: FeatureCache, windows: JudgeWindows, dev) -> tuple[float, float]:
    """(mean cosine over the held-out windows, speaker top-1 of the held-out utterances)."""
    emb = embed_windows(judge, windows, dev)
    cos = float((emb * windows.target).sum(1).mean())
    utts = np.unique(windows.owner)
    per_utt = np.stack([emb[windows.owner == i].mean(0) for i in utts])
    return cos, speaker_top1(cache, utts, per_utt)


def train(run: Run, data: JudgeWindows, steps: int, lr: float, batch: int, dev, dim: int = 128,
          save_every: int = 200, stop_at: int | None = None, validation=None) -> SpeakerEncoder:
    """Train (or resume) the judge in `run` to `steps`. `validation`: (cache, JudgeWindows)
    of held-out utterances, scored into RUN/val.csv at each checkpoint."""
    model = SpeakerEncoder(**saved_config(run, KEY, new_judge(dim).config)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr, weight_decay=0.01)
    sched = warmup_then_decay(opt, min(200, steps // 10 + 1), steps, 0.05)  # short runs: a tenth
    step = run.resume({KEY: model}, {"opt": opt, "sched": sched})
    rng = np.random.default_rng(step)  # a resumed run draws new batches

    def save(n):
        run.save(n, {KEY: model}, {"opt": opt, "sched": sched}, {KEY: model.config})
        if validation is not None:
            cos, top1 = validate(model, *validation, dev)
            path = run.dir / "val.csv"
            new = not path.exists()
            with open(path, "a", newline="") as f:
                w = csv.writer(f)
                if new:
                    w.writerow(["step", "cos", "top1"])
                w.writerow([n, f"{cos:.5f}", f"{top1:.5f}"])
            log.info("step %d validation: cos %.4f, speaker top-1 %.3f", n, cos, top1)

    progress = Progress(run, steps, step, "speaker judge", save_every=save_every, save=save,
                        stop_at=stop_at)
    while progress.running:
        x, target = data.batch(rng, batch)
        cos = (model(x.to(dev)) * target.to(dev)).sum(-1).mean()
        opt.zero_grad()
        (1 - cos).backward()
        opt.step()
        sched.step()
        progress.step(cos=cos.item())
    return model.eval()


def load_judge(path: str) -> SpeakerEncoder:
    """A trained judge (a run's last.pt, or a release file of its weights), frozen, in eval
    mode; one line and exit status 1 when the file is not one."""
    try:
        w = read_weights(path, KEY)
        judge = SpeakerEncoder(**w.config)
        judge.load_state_dict(w.weights)
    except Exception as e:  # missing file, not a checkpoint, another model's, shape mismatch
        why = (str(e).splitlines() or [""])[0][:200]
        raise SystemExit(f"error: --speaker-judge {path}: not a speaker judge checkpoint "
                         f"({type(e).__name__}: {why})") from None
    if judge.config["n_mels"] != SYNTH_MEL.n_mels:
        raise SystemExit(f"error: --speaker-judge {path}: reads {judge.config['n_mels']}-band mels, "
                         f"not the acoustic model's {SYNTH_MEL.n_mels}")
    return judge.eval().requires_grad_(False)


class SpeakerLoss:
    """train_acoustic --speaker-loss: the frozen judge on one crop (up to 100 frames, inside
    each utterance's own frames) of every predicted mel; mean of 1 - cos to the utterances'
    un-noised GE2E embeddings. Gradients reach the mel, never the judge."""

    def __init__(self, path: str, weight: float, dev, crop: int = WINDOW):
        self.judge = load_judge(path).to(dev)
        self.weight, self.crop = weight, crop

    def __call__(self, mel, n_mel, target, rng=None) -> torch.Tensor:
        """mel (B, T, 80) predicted, n_mel (B,) frames of each, target (B, 256) unit vectors;
        crops at random offsets with `rng`, centred without (validation)."""
        n = n_mel.cpu().numpy()
        length = int(min(self.crop, n.min()))  # one length: the judge pools the whole crop
        room = n - length
        start = rng.integers(0, room + 1) if rng is not None else room // 2
        frames = torch.from_numpy(start[:, None] + np.arange(length)).to(mel.device)
        crops = mel.gather(1, frames.unsqueeze(-1).expand(-1, -1, mel.shape[-1]))
        return (1 - (self.judge(crops) * target).sum(-1)).mean()


def main(argv: list[str] | None = None):
    ap = arg_parser(__doc__, steps=3000, lr=2e-3)
    ap.add_argument("--batch", type=int, default=64, help="windows per batch")
    ap.add_argument("--dim", type=int, default=128, help="judge width (new runs only)")
    ap.add_argument("--val-share", type=float, default=0.03,
                    help="share of utterances held out for RUN/val.csv (0: none)")
    a = ap.parse_args(argv)
    if not 0 <= a.val_share < 1:
        raise SystemExit(f"error: --val-share {a.val_share}: must lie in [0, 1)")
    dev = setup(a)
    try:
        cache = FeatureCache(a.cache)
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"error: --cache {a.cache}: not a readable feature cache ({e})") from None
    held = np.array([held_out(str(u), a.val_share) for u in cache.utt], bool)
    data = JudgeWindows(cache, np.nonzero(~held)[0])
    validation = None
    if held.any():
        windows = JudgeWindows(cache, np.nonzero(held)[0])
        utts = np.unique(windows.owner)
        log.info("teacher's own speaker top-1 on the held-out utterances: %.3f (the ceiling)",
                 speaker_top1(cache, utts, cache.emb[utts]))
        validation = (cache, windows)
    log.info("%d training windows, %d held-out", len(data),
             len(validation[1]) if validation else 0)
    train(Run(a.run), data, a.steps, a.lr, a.batch, dev, a.dim, a.save_every, a.stop_at,
          validation)


if __name__ == "__main__":
    main()
