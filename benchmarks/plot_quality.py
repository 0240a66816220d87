"""Systems side by side: Whisper WER and DNSMOS OVRL bars from quality.py result files.

    python -m benchmarks.plot_quality benchmarks/results/quality_teacher.json \
        benchmarks/results/baseline_whisper.json -o benchmarks/results/systems.png

Every system of every file becomes one pair of bars, labelled with its name (and the
file's stem when two files hold systems of the same name).
"""

import argparse
import json
import sys
from pathlib import Path


def systems(files: list[Path]) -> list[tuple[str, dict]]:
    out, seen = [], {}
    for f in files:
        res = json.loads(f.read_text(encoding="utf-8"))
        for s in res["systems"]:
            seen.setdefault(s["name"], []).append(f.stem)
            out.append((s["name"], f.stem, s["aggregate"]))
    return [(f"{n} ({stem})" if len(seen[n]) > 1 else n, agg) for n, stem, agg in out]


def plot(rows: list[tuple[str, dict]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, _ in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.5 * len(rows) + 1.5), sharey=True)
    for ax, key, label, scale in ((axes[0], "wer", "Whisper WER (%)", 100), (axes[1], "ovrl_mos", "DNSMOS OVRL", 1)):
        # a system without this judge (real recordings without a transcript have no WER)
        # gets no bar and a dash, not a bar at 0
        have = [a.get(key) is not None for _, a in rows]
        vals = [(a.get(key) or 0) * scale for _, a in rows]
        bars = ax.barh(range(len(rows)), vals, color="#4c72b0")
        fmt = "{:.1f}" if scale == 100 else "{:.2f}"
        ax.bar_label(bars, labels=[fmt.format(v) if h else "–" for v, h in zip(vals, have)], padding=3)
        ax.set_xlabel(label)
        ax.invert_yaxis()
    axes[0].set_yticks(range(len(rows)), names)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="+", help="quality.py JSON files")
    ap.add_argument("-o", "--out", type=Path, required=True, help="PNG to write")
    a = ap.parse_args()
    try:
        rows = systems(a.results)
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"plot_quality.py: {type(e).__name__}: {e}")
    plot(rows, a.out)


if __name__ == "__main__":
    main()
