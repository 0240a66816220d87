"""Shared training plumbing: resumable checkpoints, CSV loss logs, device and threads."""

import argparse
import copy
import csv
import logging
import os
import shlex
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

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
        # Every invocation that trained this run, with its options: the run's own recipe.
        with open(self.dir / "commands.txt", "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {shlex.join(sys.argv)}\n")

    def resume(self, modules: dict, optimizers: dict) -> int:
        if not self.ckpt.exists():
            return 0
        state = torch.load(self.ckpt, map_location="cpu", weights_only=True)
        for k, m in modules.items():
            if k not in state["model"]:  # e.g. --adversarial turned on in a resumed run
                raise SystemExit(f"error: {self.ckpt} holds no '{k}' state: the run was started "
                                 "without the option that adds it; start a new run with --init")
            m.load_state_dict(state["model"][k])
        for k, o in optimizers.items():
            if k in state.get("optim", {}):
                o.load_state_dict(state["optim"][k])
        log.info("resumed %s at step %d", self.ckpt, state["step"])
        return int(state["step"])

    def save(self, step: int, modules: dict, optimizers: dict, config: dict,
             meta: dict | None = None) -> None:
        """`meta`: what else a release needs to know, per model key (e.g. its teacher)."""
        state = {"step": step, "config": config, "meta": meta or {},
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


class WeightAverage:
    """An exponential moving average of a model's weights, kept beside it in training.
    Each step the copy moves `1 - decay` of the way to the trained weights (decay 0.999: it
    averages about the last 1,000 steps), smoothing the step-to-step noise of small
    batches. It is saved as a model of its own, so a run holds both and a release picks one."""

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"decay {decay}: must lie in (0, 1)")
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for avg, p in zip(self.model.parameters(), model.parameters()):
            avg.lerp_(p.detach(), 1 - self.decay)
        for avg, b in zip(self.model.buffers(), model.buffers()):
            avg.copy_(b)


def export_weights(src: Path, dst: Path, key: str) -> None:
    """Ship only weights + config (no optimizer state) as the release checkpoint."""
    state = torch.load(src, map_location="cpu", weights_only=True)
    out = {"config": state["config"], "step": state["step"], "model": state["model"][key]}
    tmp = Path(dst).with_suffix(".tmp")
    torch.save(out, tmp)
    os.replace(tmp, dst)


def arg_parser(doc: str, steps: int, lr: float, cache: bool = True) -> argparse.ArgumentParser:
    """The options every trainer shares (`cache=False`: a trainer that reads no feature cache)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if cache:
        ap.add_argument("--cache", required=True, help="feature cache from edgevc.export.prepare")
    ap.add_argument("--run", required=True,
                    help="run folder (last.pt, loss.csv); training resumes from it")
    ap.add_argument("--steps", type=int, default=steps, help="total optimizer steps")
    ap.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                    help="stop (with a checkpoint) at this step while the learning-rate schedule "
                    "still runs to --steps; resume later with a larger --stop-at")
    ap.add_argument("--lr", type=float, default=lr, help="peak learning rate")
    ap.add_argument("--save-every", type=int, default=200, help="checkpoint interval (steps)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if present)")
    return ap


def saved_config(run: "Run", key: str, default: dict) -> dict:
    """The model config a run started with (a resumed run keeps its architecture), else
    `default` for a new run."""
    if not run.ckpt.exists():
        return default
    return torch.load(run.ckpt, map_location="cpu", weights_only=True)["config"][key]


def setup(args) -> torch.device:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    return pick_device(args.device)


def warmup_then_decay(opt, warmup: int, total: int, floor: float):
    """Linear warm-up, then linear decay to `floor` of the peak at `total` steps."""
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(floor, 1 - s / total))


class Progress:
    """Counts steps from `start` to `total`: progress bar, CSV log, periodic checkpoints."""

    def __init__(self, run: Run, total: int, start: int, desc: str, save, save_every: int,
                 log_every: int = 20, stop_at: int | None = None):
        # `total` shapes the learning-rate schedule; `stop_at` ends this invocation earlier
        # (a run planned for 8,000 steps and judged at 4,000 keeps its schedule).
        self.run, self.n = run, start
        self.total = min(total, stop_at) if stop_at else total
        self.save, self.save_every, self.log_every = save, save_every, log_every
        self.bar = tqdm(total=self.total, initial=start, desc=desc, unit="step")

    @property
    def running(self) -> bool:
        if self.n >= self.total:
            self.bar.close()
        return self.n < self.total

    def step(self, **values: float) -> None:
        self.n += 1
        self.bar.update(1)
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()})
        if self.n % self.log_every == 0:
            self.run.log(self.n, **values)
        if self.n % self.save_every == 0 or self.n == self.total:
            self.save(self.n)
