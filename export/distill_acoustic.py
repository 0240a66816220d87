"""Distil the acoustic student from a larger trained acoustic teacher.

    python -m edgevc.export.distill_acoustic --cache cache.npz --durations durations.npz \
        --teacher runs/acoustic_teacher/last.pt --init export/checkpoints/acoustic.pt \
        --run runs/acoustic_student --steps 3000

Sequence-level knowledge distillation, the way FastSpeech learnt from its autoregressive
teacher: for every batch the teacher, given the same phonemes, speaker, true durations,
pitch and energy, predicts a mel, log-durations, pitch and energy, and the student's targets
are a blend of these and the recording's own (`--teacher-weight`; 0.5 = half each). A
teacher's mel is a smoothed, learnable version of the recording, which a small model fits
better than the recording's noise.

Without `--init` the student is new: `--dim` wide with a rank-`--film-rank` speaker FiLM and
the teacher's variance setting. The run records the teacher's weights fingerprint; `release`
writes it into acoustic.pt, and `edgevc export` re-distils a student whose teacher changed.
Resumes from RUN/last.pt; validation losses (RUN/val.csv) are against the recordings.
"""

import logging

import numpy as np
import torch

from edgevc.export.checkpoint_io import load_model_or_exit, read_weights, weights_fingerprint
from edgevc.export.models.acoustic import AcousticModel
from edgevc.export.train_acoustic import (
    Targets,
    VarianceTargets,
    fit,
    load_initial,
    load_training_set,
    loss_terms,
    predict,
    truth,
)
from edgevc.export.training import Run, arg_parser, saved_config, setup

log = logging.getLogger(__name__)


def blend(own: Targets, teacher: Targets, weight: float, mel_weight: float | None = None) -> Targets:
    """(1 - w) * the recording's targets + w * the teacher's, field by field; w is `weight`
    for durations, pitch and energy and `mel_weight` (default: `weight`) for the mel."""
    weights = [weight if mel_weight is None else mel_weight] + [weight] * 3
    return Targets(*[a if b is None else (1 - w) * a + w * b
                     for a, b, w in zip(own, teacher, weights)])


def distillation_terms(student, teacher, batch, dev, weight: float,
                       mel_weight: float | None = None):
    """The student's four loss terms against the blended targets."""
    with torch.no_grad():
        taught, _, _ = predict(teacher, batch, dev)
    pred, tmask, fmask = predict(student, batch, dev)
    return loss_terms(pred, blend(truth(batch, dev), taught, weight, mel_weight), tmask, fmask)


def new_student(teacher: AcousticModel, dim: int, film_rank: int) -> dict:
    """A student config: the teacher's, narrower."""
    config = dict(teacher.config)
    config.update(dim=dim, hidden=3 * dim, film_rank=film_rank)
    return config


def distil(run: Run, teacher: AcousticModel, fingerprint: str, data, a, dev,
           init=None) -> AcousticModel:
    """Train (or resume) the student in `run` for a.steps; `data` as train_acoustic.fit takes
    it; `init`: Weights to start a new run from. Returns the student."""
    cache = data[0]
    default = dict(init.config) if init is not None else new_student(teacher, a.dim, a.film_rank)
    config = saved_config(run, "acoustic", default)
    if bool(config.get("variance")) != bool(teacher.config.get("variance")):
        raise SystemExit("error: student and teacher differ in variance prediction; "
                         "a student learns the teacher's pitch and energy, so both need it or neither")
    student = AcousticModel(**config).to(dev)
    if init is not None and not run.ckpt.exists():
        load_initial(student, init.config, init.weights,
                     torch.from_numpy(cache.emb[np.isfinite(cache.emb).all(1)]))
    teacher = teacher.to(dev).eval()
    fit(run, student, data, a, dev,
        lambda batch: distillation_terms(student, teacher, batch, dev, a.teacher_weight,
                                         getattr(a, "mel_teacher_weight", None)),
        desc="distil acoustic", meta={"acoustic": {"teacher": {"fingerprint": fingerprint}}})
    return student.eval()


def main(argv: list[str] | None = None):
    ap = arg_parser(__doc__, steps=3000, lr=5e-4)
    ap.add_argument("--durations", required=True, help="durations from train_aligner --extract")
    ap.add_argument("--teacher", required=True,
                    help="the teacher: a release checkpoint or a train_acoustic run's last.pt")
    ap.add_argument("--init", help="a new run starts from these student weights")
    ap.add_argument("--dim", type=int, default=192, help="width of a new student (without --init)")
    ap.add_argument("--film-rank", type=int, default=64, help="speaker FiLM rank of the student")
    ap.add_argument("--teacher-weight", type=float, default=0.5,
                    help="share of the teacher in the targets (0: plain training, 1: teacher only)")
    ap.add_argument("--mel-teacher-weight", type=float,
                    help="share of the teacher in the mel target alone (default: "
                         "--teacher-weight); 0 learns only the teacher's timing and prosody")
    ap.add_argument("--max-frames", type=int, default=3000, help="mel frames per batch")
    ap.add_argument("--val-share", type=float, default=0.02,
                    help="share of sentences kept out for RUN/val.csv (0: none); use the "
                         "teacher's, so neither trained on them")
    a = ap.parse_args(argv)
    for name in ("teacher_weight", "mel_teacher_weight"):
        w = getattr(a, name)
        if w is not None and not 0 <= w <= 1:
            ap.error(f"--{name.replace('_', '-')}: must be between 0 and 1")
    if a.init:  # checked now: a bad --init would otherwise fail after the data has loaded
        load_model_or_exit(a.init, "acoustic")
    dev = setup(a)
    teacher = load_model_or_exit(a.teacher, "acoustic")
    fingerprint = weights_fingerprint(teacher.state_dict())
    cache, durs, ok, val = load_training_set(a.cache, a.durations, a.val_share)
    targets = VarianceTargets(cache, durs, ok + val) if teacher.config.get("variance") else None
    run = Run(a.run)
    init = read_weights(a.init, "acoustic") if a.init and not run.ckpt.exists() else None
    log.info("teacher %s (%s), student run %s", a.teacher, fingerprint, run.dir)
    distil(run, teacher, fingerprint, (cache, durs, ok, val, targets), a, dev, init)


if __name__ == "__main__":
    main()
