"""Loss curves of training runs as one PNG.

    python -m edgevc.export.plot_losses runs/aligner runs/acoustic runs/vocoder runs/encoder \
        -o docs/losses.png

Each run folder's `loss.csv` (step, seconds, then one column per loss) becomes one panel;
noisy curves are drawn with a running mean over `--smooth` logged points.
"""

import argparse
import csv
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def read_losses(run: Path) -> dict[str, np.ndarray]:
    with open(run / "loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{run / 'loss.csv'}: no rows")
    cols = {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows])
            for k in rows[0] if k != "seconds"}
    return cols


def running_mean(y: np.ndarray, n: int) -> np.ndarray:
    if n <= 1 or len(y) < n:
        return y
    c = np.cumsum(np.insert(np.nan_to_num(y), 0, 0))
    out = (c[n:] - c[:-n]) / n
    return np.concatenate([y[: n - 1], out])


def plot(runs: list[Path], out: Path, smooth: int = 10) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 1, figsize=(8, 2.6 * len(runs)), squeeze=False)
    for ax, run in zip(axes[:, 0], runs):
        cols = read_losses(run)
        step = cols.pop("step")
        for name, y in cols.items():
            ax.plot(step, running_mean(y, smooth), label=name, linewidth=1)
        ax.set_title(f"{run.parent.name}/{run.name}")  # e.g. runs/acoustic
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    tmp = out.with_name(out.stem + ".tmp.png")  # then rename: no half-written PNG
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(out)
    log.info("wrote %s", out)


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders with loss.csv")
    ap.add_argument("-o", "--out", type=Path, required=True, help="PNG to write")
    ap.add_argument("--smooth", type=int, default=10, help="running mean over N logged points")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    plot(a.runs, a.out, a.smooth)


if __name__ == "__main__":
    main()
