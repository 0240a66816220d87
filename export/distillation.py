"""Students that must be distilled before an export, and distilling them (`edgevc export
--distill-data`).

A student is current when it was distilled from the teacher that sits beside it:
- acoustic.pt from acoustic_teacher.pt. The student's release file names its teacher by
  weights fingerprint (checkpoint_io.weights_fingerprint); a missing or different one means
  the student is older than its teacher. Fingerprints, not file times: a git checkout or a
  copy resets times.
- speaker_encoder.pt from the GE2E teacher, whose embeddings the feature cache stores. That
  teacher is fixed (resemblyzer's weights), so its student is re-made only when missing.
The vocoder and the G2P model have no teacher.

Distillation runs in CHECKPOINTS/.distill/NAME (resumable: an interrupted export picks up
where it stopped) and lands in CHECKPOINTS/NAME.pt atomically when it is done.
"""

import logging
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import torch

from edgevc.errors import InputError
from edgevc.export.checkpoint_io import (
    ACOUSTIC_TEACHER,
    load_model_file,
    read_teacher_record,
    read_weights,
    weights_fingerprint,
)
from edgevc.export.release import release_run
from edgevc.export.training import Run, pick_device

log = logging.getLogger(__name__)

WORK = ".distill"
# An acoustic student older than its teacher starts from its old weights: 1,200 steps at
# lr 3e-4 is the measured recipe (README, benchmarks/results/distillation.md); a missing
# one starts from nothing and needs a full run.
DEFAULT_STEPS = {"acoustic": 1200, "new acoustic": 4000, "speaker_encoder": 2500}


def stale_students(ckpt_dir: str | Path) -> dict[str, str]:
    """{student name: why it needs distilling} for the checkpoints folder."""
    ckpt_dir = Path(ckpt_dir)
    stale = {}
    if not (ckpt_dir / "speaker_encoder.pt").exists():
        stale["speaker_encoder"] = "missing"
    teacher_path = ckpt_dir / ACOUSTIC_TEACHER
    if teacher_path.exists():
        # load_model_file: a corrupt or foreign teacher is one InputError line
        teacher = load_model_file(teacher_path, "acoustic")[0]
        fingerprint = weights_fingerprint(teacher.state_dict())
        student = ckpt_dir / "acoustic.pt"
        if not student.exists():
            stale["acoustic"] = "missing"
        else:
            try:
                record = read_teacher_record(student) or {}
            except Exception as e:  # unreadable: the loader's check gives the same verdict
                raise InputError(f"checkpoint {student}: incompatible with this edgevc "
                                 f"({type(e).__name__})") from None
            if record.get("fingerprint") != fingerprint:
                learnt = (f"distilled from teacher {record['fingerprint']}" if record
                          else "not distilled from it")
                stale["acoustic"] = f"older than {ACOUSTIC_TEACHER} ({fingerprint}): {learnt}"
    return stale


def _read_data(what: str, load, *args):
    """`load(*args)`, with a cache or durations file that cannot be used turned into one
    InputError line (the loaders say so with SystemExit or numpy's own errors)."""
    try:
        return load(*args)
    except SystemExit as e:
        raise InputError(f"{what}: {str(e).removeprefix('error: ')}") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise InputError(f"{what}: not a feature cache from edgevc.export.prepare ({e})") from None


def _distil_acoustic(ckpt_dir: Path, run_dir: Path, data: str, durations: str | None,
                     steps: int) -> None:
    from edgevc.export.distill_acoustic import distil
    from edgevc.export.train_acoustic import VarianceTargets, load_training_set

    teacher, _, _ = load_model_file(ckpt_dir / ACOUSTIC_TEACHER, "acoustic")
    fingerprint = weights_fingerprint(teacher.state_dict())
    cache, durs, ok, val = _read_data(f"--distill-data {data} / --durations {durations}",
                                      load_training_set, data, durations, 0.02)
    targets = VarianceTargets(cache, durs, ok + val) if teacher.config.get("variance") else None
    # a student that exists but is older than its teacher is the start of the new one
    init = read_weights(ckpt_dir / "acoustic.pt", "acoustic") if (ckpt_dir / "acoustic.pt").exists() else None
    if (run_dir / "last.pt").exists():  # an interrupted distillation: resume it if same teacher
        meta = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True).get("meta", {})
        if meta.get("acoustic", {}).get("teacher", {}).get("fingerprint") != fingerprint:
            shutil.rmtree(run_dir)
    a = SimpleNamespace(steps=steps, lr=3e-4 if init is not None else 1e-3, save_every=200,
                        max_frames=3000, dim=192, film_rank=64, teacher_weight=0.5)
    distil(Run(run_dir), teacher, fingerprint, (cache, durs, ok, val, targets), a,
           pick_device(), init)


def _distil_speaker_encoder(run_dir: Path, data: str, steps: int) -> None:
    from edgevc.export.prepare import FeatureCache
    from edgevc.export.train_speaker_encoder import WindowSet, train

    cache = _read_data(f"--distill-data {data}", FeatureCache, data)
    train(Run(run_dir), WindowSet(cache), steps, 2e-3, 64, pick_device())


def distil_students(ckpt_dir: str | Path, stale: dict[str, str], data: str | None,
                    durations: str | None = None, steps: dict | None = None) -> None:
    """Distil every student in `stale` from the feature cache `data` (edgevc.export.prepare)
    into the checkpoints folder. InputError, before any work, when a student older than its
    teacher has no data to learn from."""
    ckpt_dir = Path(ckpt_dir)
    if not data:  # a missing student without data: the checkpoint loader says "not found"
        stale = {k: why for k, why in stale.items() if why != "missing"}
    if not stale:
        return
    names = ", ".join(f"{k}.pt ({why})" for k, why in stale.items())
    if not data:
        raise InputError(f"students need distilling: {names}; give --distill-data CACHE.npz "
                         "(from edgevc.export.prepare) to distil them, or --no-distill to "
                         "export them as they are")
    if not Path(data).is_file():
        raise InputError(f"--distill-data {data}: not found")
    if "acoustic" in stale and not durations:
        raise InputError(f"acoustic.pt ({stale['acoustic']}) needs the aligner's durations to "
                         "distil: give --durations DURATIONS.npz (train_aligner --extract)")
    if durations and not Path(durations).is_file():
        raise InputError(f"--durations {durations}: not found")
    given = steps or {}
    steps = {**DEFAULT_STEPS, **given}
    if stale.get("acoustic") == "missing" and "acoustic" not in given:
        steps["acoustic"] = steps["new acoustic"]
    for name, why in stale.items():
        log.info("distilling %s.pt (%s), %d steps", name, why, steps[name])
        run_dir = ckpt_dir / WORK / name
        if name == "acoustic":
            _distil_acoustic(ckpt_dir, run_dir, data, durations, steps[name])
        else:
            _distil_speaker_encoder(run_dir, data, steps[name])
        release_run(run_dir, name, ckpt_dir / f"{name}.pt")
        shutil.rmtree(run_dir)
    if (ckpt_dir / WORK).is_dir() and not any((ckpt_dir / WORK).iterdir()):
        (ckpt_dir / WORK).rmdir()
