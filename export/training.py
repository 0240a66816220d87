"""Shared training plumbing: resumable checkpoints, CSV loss logs, device and threads."""

import csv
import logging
import os
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def pick_device(name: str | None = None) -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Run:
    """A training run folder: `last.pt` (model, optimizer, step), `loss.csv`.

    `last.pt` is replaced atomically, so a run stopped at any moment resumes from its last
    complete checkpoint.
    """

    def __init__(self, folder: str | Path):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ckpt = self.dir / "last.pt"
        self._csv = None
        self._t0 = time.time()

    def resume(self, modules: dict, optimizers: dict) -> int:
        if not self.ckpt.exists():
            return 0
        state = torch.load(self.ckpt, map_location="cpu", weights_only=True)
        for k, m in modules.items():
            m.load_state_dict(state["model"][k])
        for k, o in optimizers.items():
            if k in state.get("optim", {}):
                o.load_state_dict(state["optim"][k])
        log.info("resumed %s at step %d", self.ckpt, state["step"])
        return int(state["step"])

    def save(self, step: int, modules: dict, optimizers: dict, config: dict) -> None:
        state = {"step": step, "config": config,
                 "model": {k: m.state_dict() for k, m in modules.items()},
                 "optim": {k: o.state_dict() for k, o in optimizers.items()}}
        tmp = self.ckpt.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.ckpt)

    def log(self, step: int, **values: float) -> None:
        new = self._csv is None
        if new:
            exists = (self.dir / "loss.csv").exists()
            self._csv = open(self.dir / "loss.csv", "a", newline="")
            self._writer = csv.writer(self._csv)
            if not exists:
                self._writer.writerow(["step", "seconds", *values])
        self._writer.writerow([step, round(time.time() - self._t0, 1),
                               *[f"{v:.5f}" for v in values.values()]])
        self._csv.flush()


def export_weights(src: Path, dst: Path, key: str) -> None:
    """Ship only weights + config (no optimizer state) as the release checkpoint."""
    state = torch.load(src, map_location="cpu", weights_only=True)
    out = {"config": state["config"], "step": state["step"], "model": state["model"][key]}
    tmp = Path(dst).with_suffix(".tmp")
    torch.save(out, tmp)
    os.replace(tmp, dst)
