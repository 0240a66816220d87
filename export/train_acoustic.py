"""Train the acoustic model on a feature cache and the aligner's durations.

    python -m edgevc.export.train_acoustic --cache cache.npz --durations durations.npz \
        --run runs/acoustic --steps 20000

Conditioning is the GE2E embedding of each utterance (what the runtime's speaker encoder
approximates), lightly noised so the model leans on the voice, not on one recording.
Losses: mel L1 and log-duration MSE; with variance prediction (the default for new runs)
also MSE of each phoneme's normalised pitch (mean log-F0 of its voiced frames) and energy
(mean log-mel of its frames). Resumes from RUN/last.pt.

`--speaker-loss W --speaker-judge JUDGE/last.pt` adds W times a speaker loss (`spk` in
loss.csv and val.csv): a frozen mel speaker judge (export/train_speaker_judge.py) reads a
crop of each predicted mel, and the loss is 1 - cos between what it hears and the
utterance's un-noised GE2E embedding. Turn it on in a new run: a run resumed with it gains
a CSV column its header lacks.

`--adversarial W` adds W times a mel discriminator's least-squares and feature-matching
losses (`adv` in loss.csv, the discriminator's own loss `disc`; export/mel_adversary.py):
against the over-smoothed mel an L1 loss leaves.

`--init MODEL --grow-decoder K` appends K decoder blocks that start as the identity (zero
residual scale): the grown model first speaks exactly as MODEL (a capacity probe).

`--val-share` keeps every take of a share of the sentences out of training and writes their
losses to RUN/val.csv at each checkpoint: the training loss alone misled a session-3
fine-tune (mel 0.56 -> 0.36 while held-out WER rose from 38% to 50%).
"""

import csv
import fnmatch
import hashlib
import logging
from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from edgevc.export.batching import LengthBatcher, lengths_mask, pad, transcribed_indices
from edgevc.export.checkpoint_io import load_model_or_exit, read_weights
from edgevc.export.heldout import text_key
from edgevc.export.mel_adversary import MelAdversary
from edgevc.export.models.acoustic import AcousticModel, expand, low_rank_film_state
from edgevc.export.models.layers import set_dropout
from edgevc.export.pitch import phoneme_average
from edgevc.export.prepare import FeatureCache
from edgevc.export.train_speaker_judge import SpeakerLoss
from edgevc.export.training import (
    Progress,
    Run,
    WeightAverage,
    arg_parser,
    saved_config,
    setup,
    warmup_then_decay,
)

log = logging.getLogger(__name__)


def load_durations(path: str, cache: FeatureCache):
    z = np.load(path, allow_pickle=False)
    if not np.array_equal(z["utt"], cache.utt):
        raise SystemExit(f"{path}: durations were made from a different cache")
    off = z["dur_off"]
    return [z["dur"][off[i]:off[i + 1]].astype(np.int64) for i in range(len(cache))]


# Normalisation of the variance targets: log-F0 around 150 Hz, energy by corpus statistics.
LOG_F0_MEAN, LOG_F0_STD = 5.0, 0.35


class VarianceTargets:
    """Per-phoneme normalised pitch and energy of every usable utterance, computed once."""

    def __init__(self, cache, durs, indices):
        energy = {i: cache.mel(i).mean(1) for i in indices}
        allv = np.concatenate(list(energy.values()))
        self.e_mean, self.e_std = float(allv.mean()), float(allv.std() + 1e-5)
        self.pitch, self.energy = {}, {}
        for i in indices:
            lf0 = phoneme_average(cache.log_f0(i), durs[i], voiced_only=True)
            self.pitch[i] = np.where(lf0 > 0, (lf0 - LOG_F0_MEAN) / LOG_F0_STD, 0).astype(np.float32)
            self.energy[i] = ((phoneme_average(energy[i], durs[i]) - self.e_mean)
                              / self.e_std).astype(np.float32)


def make_batch(cache, durs, idx, rng, emb_noise=0.05, variance=None):
    ids, n_text = pad([cache.ids(i) for i in idx])
    dur, _ = pad([durs[i] for i in idx])
    mel, n_mel = pad([cache.mel(i) for i in idx])
    emb = cache.emb[idx] + (rng.normal(0, emb_noise, (len(idx), cache.emb.shape[1]))
                            if emb_noise else 0.0)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    batch = [ids, dur, mel, n_text, n_mel, torch.from_numpy(emb.astype(np.float32))]
    if variance is not None:
        batch += [pad([variance.pitch[i] for i in idx])[0], pad([variance.energy[i] for i in idx])[0]]
    return batch


def masked_mse(pred, target, mask):
    return (F.mse_loss(pred, target, reduction="none") * mask).sum() / mask.sum()


class Targets(NamedTuple):
    """What the model is fitted to, per batch: mel (B, T, M), log(1 + frames) (B, N) and,
    for variance models, normalised pitch and energy (B, N), else None."""
    mel: torch.Tensor
    logdur: torch.Tensor
    pitch: torch.Tensor | None
    energy: torch.Tensor | None


def truth(batch, dev) -> Targets:
    """The recordings' own targets."""
    dur, mel = batch[1].to(dev), batch[2].to(dev)
    pitch, energy = [t.to(dev) for t in batch[6:]] or (None, None)
    return Targets(mel, torch.log1p(dur.float()), pitch, energy)


def predict(model, batch, dev, predicted_variance: float = 0.0, rng=None):
    """The model's outputs for a batch, given the true durations, pitch and energy
    (teacher forcing), as Targets, with the phoneme mask (B, N) and frame mask (B, T, 1).

    `predicted_variance`: the share of utterances whose states take the model's own pitch and
    energy predictions (detached) instead of the true ones. A decoder that only ever saw the
    true values leans on them: in session 9, 20 held-out teacher sentences read 17% WER with
    true pitch and energy and 30% with predicted ones (durations true in both)."""
    ids, dur, mel, n_text, _n_mel, spk = [t.to(dev) for t in batch[:6]]
    pitch, energy = [t.to(dev) for t in batch[6:]] or (None, None)
    tmask = lengths_mask(n_text).unsqueeze(-1).to(dev)
    if predicted_variance > 0 and pitch is not None and energy is not None:
        pitch, energy = _mix_predicted(model, ids, spk, tmask, pitch, energy, predicted_variance, rng)
    h, logdur, p_hat, e_hat = model.encode_with_variance(ids, spk, tmask, pitch, energy)
    frames, fmask = expand(h, dur, max_len=mel.shape[1])
    return Targets(model.decode(frames, spk, fmask), logdur, p_hat, e_hat), tmask[..., 0], fmask


def _mix_predicted(model, ids, spk, tmask, pitch, energy, share: float, rng):
    """True pitch/energy (B, N), with those of a random `share` of the utterances (all of
    them at share 1) replaced by the model's detached predictions."""
    with torch.no_grad():
        _, _, p_hat, e_hat = model.encode_with_variance(ids, spk, tmask)
    draw = (rng or np.random.default_rng()).random(len(ids)) < share  # [0, 1): all at share 1
    pick = torch.from_numpy(draw).to(pitch.device).unsqueeze(1)
    return torch.where(pick, p_hat, pitch), torch.where(pick, e_hat, energy)


def loss_terms(pred: Targets, target: Targets, tmask, fmask):
    """mel L1, log-duration MSE, and (variance models) pitch and energy MSE, else 0."""
    mel_loss = ((F.l1_loss(pred.mel, target.mel, reduction="none") * fmask).sum()
                / (fmask.sum() * target.mel.shape[-1]))
    dur_loss = masked_mse(pred.logdur, target.logdur, tmask)
    zero = torch.zeros((), device=tmask.device)
    pitch_loss = masked_mse(pred.pitch, target.pitch, tmask) if pred.pitch is not None else zero
    energy_loss = masked_mse(pred.energy, target.energy, tmask) if pred.energy is not None else zero
    return mel_loss, dur_loss, pitch_loss, energy_loss


def losses(model, batch, dev, predicted_variance: float = 0.0, rng=None,
           speaker: SpeakerLoss | None = None, emb=None, adversary: MelAdversary | None = None):
    """loss_terms of the model against the recordings; with `speaker`, then the speaker loss
    against `emb` (B, 256), the utterances' un-noised embeddings (crops drawn by `rng`);
    with `adversary`, then its generator loss on crops drawn by `rng`."""
    pred, tmask, fmask = predict(model, batch, dev, predicted_variance, rng)
    target = truth(batch, dev)
    terms = loss_terms(pred, target, tmask, fmask)
    if speaker is not None:
        terms = (*terms, speaker(pred.mel, batch[4], emb.to(dev), rng))
    if adversary is not None:
        terms = (*terms, adversary.generator_loss(pred.mel, target.mel, batch[4], rng))
    return terms


def total_loss(mel_loss, dur_loss, pitch_loss, energy_loss):
    return mel_loss + 0.5 * dur_loss + 0.1 * (pitch_loss + energy_loss)


def split_validation(cache: FeatureCache, indices, share: float) -> tuple[list, list]:
    """(train, validation) indices; a sentence's takes all land on the same side, chosen by
    a hash of its text, so validation sentences are unseen texts."""
    if not share or "text" not in cache.z:
        return list(indices), []
    texts = cache.z["text"]

    def held(i):
        # salted: export/heldout.txt already took the sentences whose plain hash ranks lowest
        h = hashlib.sha256(b"validation:" + text_key(str(texts[i])).encode()).digest()
        return int.from_bytes(h[:4], "big") / 2 ** 32 < share

    val = [i for i in indices if held(i)]
    return [i for i in indices if not held(i)], val


@torch.no_grad()
def validation_losses(model, cache, durs, indices, targets, dev, max_frames: int,
                      speaker: SpeakerLoss | None = None) -> list[float]:
    """Mean losses over `indices` in fixed batches, without embedding noise: the four terms
    with the true durations, pitch and energy, then (variance models) the mel loss with the
    true durations and the model's own pitch and energy, as at run time, then (`speaker`)
    the speaker loss on centred crops."""
    was_training = model.training
    model.eval()
    variance = targets is not None
    totals, n = np.zeros(4 + variance + (speaker is not None)), 0
    order = sorted(indices, key=lambda i: len(cache.mel(i)))
    batch, frames = [], 0
    for i in [*order, None]:
        if i is not None and (not batch or frames + len(cache.mel(i)) <= max_frames):
            batch.append(i)
            frames += len(cache.mel(i))
            continue
        b = make_batch(cache, durs, batch, None, emb_noise=0.0, variance=targets)
        emb = torch.from_numpy(cache.emb[batch]) if speaker is not None else None
        out = [x.item() for x in losses(model, b, dev, speaker=speaker, emb=emb)]
        terms = out[:4]
        if variance:
            terms.append(losses(model, b, dev, predicted_variance=1.0)[0].item())
        terms += out[4:]  # the speaker loss, last: val.csv only gains a column
        totals += np.array(terms) * len(batch)
        n += len(batch)
        batch, frames = ([i], len(cache.mel(i))) if i is not None else ([], 0)
    model.train(was_training)
    return list(totals / max(1, n))


def log_validation(path, step: int, values, speaker: bool = False, label: str = "validation") -> None:
    """`speaker`: the last of `values` is the speaker loss."""
    n = len(values) - speaker
    names = ["mel", "dur", "pitch", "energy", "mel_predicted_variance"][:n] + ["spk"] * speaker
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["step", *names])
        w.writerow([step, *[f"{v:.5f}" for v in values]])
    labels = ["mel", "dur", "pitch", "energy", "mel(predicted p/e)"][:n] + ["spk"] * speaker
    log.info("step %d %s: %s", step, label, " ".join(f"{k} {v:.4f}" for k, v in zip(labels, values)))


def load_training_set(cache_path: str, durations_path: str, val_share: float):
    """(cache, durations, training indices, validation indices): the transcribed utterances
    whose aligner durations cover their mel frames."""
    cache = FeatureCache(cache_path)
    durs = load_durations(durations_path, cache)
    ok = [i for i in transcribed_indices(cache) if durs[i].sum() == len(cache.mel(i))]
    ok, val = split_validation(cache, ok, val_share)
    if not ok:
        raise SystemExit(f"--val-share {val_share}: no training utterances left")
    log.info("%d utterances train, %d validate", len(ok), len(val))
    return cache, durs, ok, val


def oversampled(cache: FeatureCache, indices: list, weights: dict[str, int]) -> list:
    """`indices` with each utterance of a speaker in `weights` repeated that many times in
    all (the batcher draws from the list, so a weight of 3 means three times as often).
    A key may be a shell pattern (`speechocean762-*`, `[0-9]*`): every speaker it matches;
    a speaker matched by several keys takes the first. A weight of 0 leaves the speaker out
    of training (validation keeps its utterances, so runs stay comparable)."""
    out = list(indices)
    claimed: set[int] = set()
    dropped: set[int] = set()
    for pattern, k in weights.items():
        mine = [i for i in indices if i not in claimed and fnmatch.fnmatchcase(str(cache.spk[i]), pattern)]
        if not mine:
            raise SystemExit(f"--oversample {pattern}: no training utterances of that speaker")
        claimed.update(mine)
        n_spk = len({str(cache.spk[i]) for i in mine})
        if k == 0:
            dropped.update(mine)
            log.info("%s: %d utterances of %d speaker(s) left out", pattern, len(mine), n_spk)
            continue
        out += mine * (k - 1)
        log.info("%s: %d utterances of %d speaker(s) drawn %dx as often", pattern, len(mine), n_spk, k)
    out = [i for i in out if i not in dropped]
    if not out:
        raise SystemExit("--oversample: every training utterance is left out")
    return out


def parse_oversample(values: list[str]) -> dict[str, int]:
    out = {}
    for v in values:
        speaker, sep, k = v.rpartition("=")
        if not sep or not speaker or not k.isdigit():
            raise SystemExit(f"--oversample {v}: expected SPEAKER=K with K a whole number >= 0")
        out[speaker] = int(k)
    return out


def load_initial(model: AcousticModel, config: dict, weights: dict, embeddings) -> None:
    """Load `weights` (made with `config`), factorising a full-rank FiLM to the model's rank.
    Decoder blocks the weights lack (--grow-decoder) start as the identity: their residual
    scale is zero, so the grown model speaks exactly as the one it grew from."""
    rank = model.config["film_rank"]
    if rank and not config.get("film_rank"):
        weights = low_rank_film_state(weights, rank, embeddings)
        log.info("speaker FiLM factorised to rank %d", rank)
    old = len(config["dec_dilations"])
    missing, unexpected = model.load_state_dict(weights, strict=False)
    grown = {f"decoder.blocks.{i}." for i in range(old, len(model.decoder.blocks))}
    if unexpected or any(not any(k.startswith(g) for g in grown) for k in missing):
        raise SystemExit(f"--init: weights do not fit the model (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    with torch.no_grad():
        for block in model.decoder.blocks[old:]:
            block.gamma.zero_()


def main(argv: list[str] | None = None):
    ap = arg_parser(__doc__, steps=20000, lr=1e-3)
    ap.add_argument("--durations", required=True, help="durations from train_aligner --extract")
    ap.add_argument("--max-frames", type=int, default=3000, help="mel frames per batch")
    ap.add_argument("--dim", type=int, default=192, help="model width (new runs only)")
    ap.add_argument("--no-variance", action="store_true",
                    help="no pitch/energy prediction (new runs only)")
    ap.add_argument("--film-rank", type=int, default=64,
                    help="rank of the speaker FiLM projection, 0 for full rank (new runs only)")
    ap.add_argument("--val-share", type=float, default=0.02,
                    help="share of sentences kept out for RUN/val.csv (0: none)")
    ap.add_argument("--init", help="new runs start from these weights (a release checkpoint or "
                    "a run's last.pt); a full-rank FiLM is factorised to --film-rank")
    ap.add_argument("--grow-decoder", type=int, default=0, metavar="K",
                    help="with --init: K more decoder blocks (dilations continuing the pattern), "
                    "starting as the identity (new runs only)")
    ap.add_argument("--oversample", action="append", default=[], metavar="SPEAKER=K",
                    help="draw SPEAKER's utterances K times as often (e.g. the default voice); K 0 "
                    "leaves them out of training; SPEAKER may be a shell pattern: 'speechocean762-*=2'")
    ap.add_argument("--predicted-variance", type=float, default=0.0, metavar="SHARE",
                    help="share of utterances whose decoder input takes the model's own pitch "
                    "and energy instead of the true ones, as at run time (0: teacher forcing)")
    ap.add_argument("--speaker-loss", type=float, default=0.0, metavar="W",
                    help="weight of the speaker loss: 1 - cos between the --speaker-judge's "
                    "embedding of the predicted mel and the utterance's GE2E embedding (0: off)")
    ap.add_argument("--speaker-judge", metavar="PATH",
                    help="the frozen judge for --speaker-loss: a train_speaker_judge run's last.pt")
    ap.add_argument("--adversarial", type=float, default=0.0, metavar="W",
                    help="weight of a mel discriminator's adversarial + feature-matching loss "
                    "against over-smoothed mels (0: off); turn it on in a new run")
    ap.add_argument("--dropout", type=float, default=0.0, metavar="P",
                    help="dropout in the encoder's and decoder's residual branches and the "
                    "variance predictors, against fitting the training sentences (0: off; "
                    "training only, the exported model is unchanged)")
    ap.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                    help="also keep an exponential moving average of the weights (e.g. 0.999, "
                    "about the last 1,000 steps), saved as 'acoustic_ema' with its own "
                    "RUN/val_ema.csv; `release --acoustic-ema` ships it (0: off; new runs only)")
    a = ap.parse_args(argv)
    if not (a.ema == 0 or 0 < a.ema < 1):
        raise SystemExit(f"error: --ema {a.ema}: must be 0 (off) or lie in (0, 1)")
    if not 0 <= a.dropout < 1:
        raise SystemExit(f"error: --dropout {a.dropout}: must lie in [0, 1)")
    if not 0 <= a.predicted_variance <= 1:
        raise SystemExit(f"error: --predicted-variance {a.predicted_variance}: must lie in [0, 1]")
    if a.grow_decoder < 0:
        raise SystemExit(f"error: --grow-decoder {a.grow_decoder}: must be 0 or more")
    if a.adversarial < 0:
        raise SystemExit(f"error: --adversarial {a.adversarial}: must be 0 or more")
    if a.speaker_loss < 0:
        raise SystemExit(f"error: --speaker-loss {a.speaker_loss}: must be 0 or more")
    if a.speaker_loss > 0 and not a.speaker_judge:
        raise SystemExit("error: --speaker-loss needs --speaker-judge PATH "
                         "(a train_speaker_judge run's last.pt)")
    weights = parse_oversample(a.oversample)
    if a.init:  # checked now: a bad --init would otherwise fail after the data has loaded
        load_model_or_exit(a.init, "acoustic")
    dev = setup(a)
    # loaded now: a bad judge would otherwise fail after the data has loaded
    speaker = SpeakerLoss(a.speaker_judge, a.speaker_loss, dev) if a.speaker_loss > 0 else None
    if a.speaker_judge and speaker is None:
        log.warning("--speaker-judge without --speaker-loss: no speaker loss")
    cache, durs, ok, val = load_training_set(a.cache, a.durations, a.val_share)
    targets_for = ok + val  # variance targets: each utterance once
    ok = oversampled(cache, ok, weights)
    run = Run(a.run)
    init = None if run.ckpt.exists() or not a.init else read_weights(a.init, "acoustic")
    default = {"dim": a.dim, "hidden": 3 * a.dim, "variance": not a.no_variance}
    if init is not None:
        default = dict(init.config)
        dil = list(default["dec_dilations"])
        default["dec_dilations"] = dil + [dil[i % len(dil)] for i in range(a.grow_decoder)]
    elif a.grow_decoder and not run.ckpt.exists():  # a resumed run keeps its grown decoder
        raise SystemExit("error: --grow-decoder needs --init (the model to grow)")
    default["film_rank"] = a.film_rank
    config = saved_config(run, "acoustic", default)
    model = AcousticModel(**config).to(dev)
    set_dropout(model, a.dropout)
    variance = bool(config.get("variance"))
    if init is not None:
        load_initial(model, init.config, init.weights,
                     torch.from_numpy(cache.emb[np.isfinite(cache.emb).all(1)]))
    targets = VarianceTargets(cache, durs, targets_for) if variance else None
    adversary = MelAdversary(a.adversarial, dev) if a.adversarial > 0 else None
    mix_rng = np.random.default_rng()
    fit(run, model, (cache, durs, ok, val, targets), a, dev,
        lambda batch, emb=None: losses(model, batch, dev, a.predicted_variance, mix_rng,
                                       speaker, emb, adversary),
        speaker=speaker, adversary=adversary)


def fit(run: Run, model: AcousticModel, data, a, dev, batch_terms, desc: str = "acoustic",
        meta: dict | None = None, speaker: SpeakerLoss | None = None,
        adversary: MelAdversary | None = None) -> None:
    """The training loop shared by train_acoustic and distill_acoustic: AdamW with warm-up and
    decay to a.steps, resumable from RUN/last.pt, validation losses at each checkpoint.
    `data` is (cache, durations, train, validation, VarianceTargets or None);
    `batch_terms(batch)` gives the four loss terms; `meta` is saved with each checkpoint.
    With `speaker`, `batch_terms(batch, emb)` gives a fifth, the speaker loss against the
    utterances' un-noised embeddings `emb`, added with weight speaker.weight. With
    `adversary`, one more (last), its generator loss, added with its active weight; its
    discriminator steps after each model step and is checkpointed with the model.
    With `a.ema` > 0 a WeightAverage of the model is kept, saved as 'acoustic_ema' and
    validated into RUN/val_ema.csv."""
    cache, durs, ok, val, targets = data
    batcher = LengthBatcher(cache, np.array(ok), a.max_frames)
    opt = torch.optim.AdamW(model.parameters(), a.lr, betas=(0.9, 0.98), weight_decay=0.01)
    sched = warmup_then_decay(opt, 500, a.steps, 0.1)
    modules = {"acoustic": model, **({"adversary": adversary} if adversary else {})}
    ema = WeightAverage(model, a.ema) if getattr(a, "ema", 0) else None
    configs = {"acoustic": model.config}
    if ema is not None:
        modules["acoustic_ema"], configs["acoustic_ema"] = ema.model, model.config
        if meta and "acoustic" in meta:  # e.g. the teacher a distilled student names
            meta = {**meta, "acoustic_ema": meta["acoustic"]}
    step = run.resume(modules, {"opt": opt, "sched": sched})
    rng = np.random.default_rng(step)  # a resumed run draws new batches
    names = ["mel", "dur", "pitch", "energy"] + ["spk"] * (speaker is not None) \
        + ["adv"] * (adversary is not None)

    def save(n):
        run.save(n, modules, {"opt": opt, "sched": sched}, configs, meta=meta)
        if val:
            v = validation_losses(model, cache, durs, val, targets, dev, a.max_frames, speaker)
            log_validation(run.dir / "val.csv", n, v, speaker is not None)
            if ema is not None:
                v = validation_losses(ema.model, cache, durs, val, targets, dev, a.max_frames, speaker)
                log_validation(run.dir / "val_ema.csv", n, v, speaker is not None, "validation (EMA)")

    progress = Progress(run, a.steps, step, desc, save_every=a.save_every, save=save,
                        stop_at=getattr(a, "stop_at", None))  # distillation passes its own options
    while progress.running:
        idx = batcher.sample()
        batch = make_batch(cache, durs, idx, rng, variance=targets)
        if speaker is None:
            terms = batch_terms(batch)
        else:  # the un-noised embeddings: the voice the judge should hear in the mel
            terms = batch_terms(batch, torch.from_numpy(cache.emb[idx]))
        loss = total_loss(*terms[:4])
        if speaker is not None:
            loss = loss + speaker.weight * terms[4]
        if adversary is not None:
            loss = loss + adversary.active_weight * terms[-1]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if ema is not None:
            ema.update(model)
        values = {k: t.item() for k, t in zip(names, terms)}
        if adversary is not None:
            values["disc"] = adversary.update()
        progress.step(**values)

if __name__ == "__main__":
    main()
