"""Release checkpoints: `{config, step, model}` weights files, loaded with weights_only."""

import hashlib
import importlib.util
from pathlib import Path
from typing import NamedTuple

import torch

from edgevc.errors import InputError
from edgevc.export.models.acoustic import AcousticModel
from edgevc.export.models.speaker_encoder import SpeakerEncoder
from edgevc.export.models.vocoder import Vocoder

MODELS = {"speaker_encoder": SpeakerEncoder, "acoustic": AcousticModel, "vocoder": Vocoder}
DEFAULT_SPEAKER = "default_speaker.npy"
ACOUSTIC_TEACHER = "acoustic_teacher.pt"  # the larger model acoustic.pt is distilled from
# The shipped checkpoints are a distribution of their own (export/checkpoints/pyproject.toml),
# so the device wheel carries none; its import package is that folder.
CHECKPOINTS_PACKAGE = "edgevc_checkpoints"
CHECKPOINTS_INSTALL = "pip install ./export/checkpoints"


def shipped_dir() -> Path:
    """The folder of the shipped checkpoints. In a source tree (a clone, an editable install)
    it is export/checkpoints beside this file: the checkpoints that came with this code, even
    where an older edgevc-checkpoints is installed too. In a plain install it is the installed
    edgevc-checkpoints package. InputError in one line naming the install command when
    neither is there."""
    beside = Path(__file__).resolve().parent / "checkpoints"
    if (beside / "pyproject.toml").is_file():  # the project itself, never a leftover folder
        return beside
    spec = importlib.util.find_spec(CHECKPOINTS_PACKAGE)
    if spec is not None and spec.origin:
        return Path(spec.origin).resolve().parent
    raise InputError(f"the shipped checkpoints (edgevc-checkpoints) are not installed: run "
                     f"`{CHECKPOINTS_INSTALL}` in an edgevc clone, or name checkpoints on the "
                     f"command line (edgevc export --checkpoints DIR)")


def load_model(folder: str | Path, name: str) -> tuple[torch.nn.Module, dict]:
    """Build model `name` from `folder/name.pt`; one clear error when it is missing or does
    not fit this edgevc's model definition."""
    path = Path(folder) / f"{name}.pt"
    model, step, config = load_model_file(path, name)
    info = {"file": path.name, "step": step, "config": config}
    corpora = read_corpora_record(path)
    if corpora:
        info["corpora"] = corpora
    teacher = read_teacher_record(path)
    if teacher:
        info["distilled_from"] = teacher
    return model, info


def read_corpora_record(path: str | Path) -> list[str]:
    """The corpus tags a release checkpoint names (release.py, from its feature cache)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    tags = state.get("corpora", []) if isinstance(state, dict) else []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def load_model_file(path: str | Path, name: str) -> tuple[torch.nn.Module, int, dict]:
    """Model `name` (a key of MODELS) in eval mode, its step and config, from a checkpoint
    file of any name: a release file or a training run's last.pt. InputError in one line
    when the file is missing or does not fit this edgevc's model definition."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path}: not found")
    try:
        w = read_weights(path, name)
        model = MODELS[name](**w.config)
        model.load_state_dict(w.weights)
    except InputError:
        raise
    except Exception as e:  # unpickling refused, missing keys, shape mismatch, bad config
        raise InputError(f"checkpoint {path}: incompatible with this edgevc "
                         f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    return model.eval(), w.step, w.config


def load_model_or_exit(path: str | Path, name: str) -> torch.nn.Module:
    """load_model_file for command-line tools: the error as one line and exit status 1."""
    try:
        return load_model_file(path, name)[0]
    except InputError as e:
        raise SystemExit(f"error: {e}") from None


class Weights(NamedTuple):
    config: dict
    weights: dict  # float32 state dict
    step: int


def read_weights(path: str | Path, key: str) -> Weights:
    """Model `key`'s config, float32 weights and step, from a release checkpoint or from a
    training run's last.pt (which holds several models and their optimizers)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "optim" in state:
        config, weights = state["config"][key], state["model"][key]
    else:
        config, weights = state["config"], state["model"]
    return Weights(config, {k: v.float() if v.is_floating_point() else v for k, v in weights.items()},
                   int(state.get("step", 0)))


def weights_fingerprint(weights: dict) -> str:
    """A short hash of a model's weights rounded to fp16, in key order: the same for a run's
    last.pt and the release file made from it (which stores fp16), so a distilled student can
    name the teacher it learnt from whatever file that teacher is read from."""
    h = hashlib.sha256()
    for k in sorted(weights):
        v = weights[k].detach().cpu()
        h.update(k.encode())
        h.update((v.half() if v.is_floating_point() else v).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def read_teacher_record(path: str | Path) -> dict | None:
    """The `teacher` record ({fingerprint, step}) a distilled release checkpoint carries,
    else None."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("teacher")


def half_weights(weights: dict) -> dict:
    """fp16 copies of the float tensors: what release checkpoints store (half the bytes in
    the repository and the wheel; export loads them back as fp32)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}


def save_model(path: str | Path, model: torch.nn.Module, step: int) -> None:
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save({"config": model.config, "step": step, "model": model.state_dict()}, tmp)
    tmp.replace(path)
