"""Speed, latency, memory and size of an edgevc bundle on this machine.

    python -m benchmarks.speed [--bundle DIR] [--compare DIR] [--runs N] [--out benchmarks/results]
        [--quick] [--long-words N]

`--compare DIR` times a second bundle (e.g. the fp32 export of the same checkpoints) on the
same paragraph, 1 thread, with runs interleaved so both see the same machine load, and
reports the speed-up.

Writes <out>/speed.json and <out>/speed.md (both overwritten) and prints the Markdown
table. See benchmarks/README.md for what each figure means.
"""

import argparse
import dataclasses
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from datetime import datetime, timezone
from pathlib import Path

import edgevc
from benchmarks.machine import command
from edgevc.runtime.bundle import PHASE_METHODS, Bundle
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer

log = logging.getLogger("speed")

PARAGRAPH = ("Welcome to the north entrance. The museum opens at 10:30 on Saturdays, and tickets "
             "cost $18.25 for adults. Children under 12 enter free. The east gallery closes at "
             "4 pm for cleaning, so please visit it first. Enjoy your visit.")  # 40 words
SENTENCE = "Please take the second left after the old train station."  # 10 words
LONG_SENTENCES = [
    PARAGRAPH, SENTENCE,
    "Your order of 3 coffees and 2 muffins comes to $14.60, and it will be ready in 5 minutes.",
    "The next train to the airport leaves from platform 7 at 6:45, so please stand clear of the doors.",
    "Battery level is 23 percent; connect the charger within the next hour to avoid a shutdown.",
    "Turn right at the bakery, walk two blocks north, and the library is on your left.",
    "Tomorrow will be cloudy with a high of 18 degrees and a light breeze from the west.",
    "Thank you for calling. All of our agents are busy, but your call matters to us.",
]
ROLES = ("acoustic_encoder", "acoustic_decoder", "vocoder")


def long_text(min_words: int) -> str:
    parts, words, i = [], 0, 0
    while words < min_words:
        s = LONG_SENTENCES[i % len(LONG_SENTENCES)]
        parts.append(s)
        words += len(s.split())
        i += 1
    return " ".join(parts)


def stat(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": [round(v, 5) for v in values]}


class StageTimer:
    """Wraps synth.sessions[role].run to add up the seconds spent in each model."""

    def __init__(self, synth: Synthesizer):
        self.total = dict.fromkeys(ROLES, 0.0)
        for role in ROLES:
            sess = synth.sessions[role]
            sess.run = self._wrap(role, sess.run)

    def _wrap(self, role, run):
        def timed(feeds):
            t = time.perf_counter()
            try:
                return run(feeds)
            finally:
                self.total[role] += time.perf_counter() - t
        return timed

    def reset(self):
        self.total = dict.fromkeys(ROLES, 0.0)


def make_synth(bundle: Bundle, profile_name: str, threads: int, phase: str | None = None) -> Synthesizer:
    prof = dataclasses.replace(load_profile(profile_name), threads=threads)
    return Synthesizer(bundle, prof, phase)


def measure_rtf(synth: Synthesizer, runs: int, stages: StageTimer | None = None) -> dict:
    """Warm real-time factor of PARAGRAPH: synthesis seconds / audio seconds."""
    synth.synthesize(PARAGRAPH)  # warm-up
    rtfs, split = [], {r: [] for r in (*ROLES, "other")}
    for _ in range(runs):
        if stages:
            stages.reset()
        t = time.perf_counter()
        n = sum(len(c) for c in synth.stream(PARAGRAPH))
        elapsed = time.perf_counter() - t
        audio_s = n / synth.sample_rate
        rtfs.append(elapsed / audio_s)
        if stages:
            for r in ROLES:
                split[r].append(stages.total[r] / audio_s)
            split["other"].append((elapsed - sum(stages.total.values())) / audio_s)
    out = {"rtf": stat(rtfs), "audio_seconds": round(audio_s, 3)}
    if stages:
        out["stage_rtf"] = {r: statistics.median(v) for r, v in split.items()}
    return out


def measure_speedup(a: Synthesizer, b: Synthesizer, runs: int) -> dict:
    """RTF of `a` and `b` in alternating runs, and how many times faster `a` is."""
    for s in (a, b):
        s.synthesize(PARAGRAPH)  # warm-up
    ra, rb = [], []
    for _ in range(runs):
        for synth, out in ((a, ra), (b, rb)):
            t = time.perf_counter()
            n = sum(len(c) for c in synth.stream(PARAGRAPH))
            out.append((time.perf_counter() - t) / (n / synth.sample_rate))
    return {"rtf": stat(ra), "compare_rtf": stat(rb),
            "speedup": statistics.median(rb) / statistics.median(ra)}


def measure_first_audio(synth: Synthesizer, runs: int) -> dict:
    """Warm time from calling stream(SENTENCE) to its first chunk."""
    next(iter(synth.stream(SENTENCE)))  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        gen = synth.stream(SENTENCE)
        next(gen)
        times.append(time.perf_counter() - t)
        gen.close()
    return stat(times)


def speak_cmd(text: str, out: str, args) -> list[str]:
    cmd = [sys.executable, "-m", "edgevc", "speak", text, "--out", out, "--profile", args.profile]
    return (cmd + (["--bundle", str(args.bundle)] if args.bundle else [])
            + (["--phase", args.phase] if args.phase else []))


def measure_cold_start(args, runs: int) -> dict:
    """Process start to the first byte of raw PCM on stdout of `edgevc speak ... --out -`."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryFile() as err:
            t = time.perf_counter()
            p = subprocess.Popen(speak_cmd(SENTENCE, "-", args), stdout=subprocess.PIPE,
                                 stderr=err, bufsize=0)
            first = p.stdout.read(1)
            dt = time.perf_counter() - t
            p.stdout.read()  # drain so the process can finish
            p.stdout.close()
            if p.wait() != 0 or not first:
                err.seek(0)
                raise RuntimeError(f"speak exited {p.returncode}: {err.read().decode()[-2000:]}")
        times.append(dt)
    return stat(times)


def _vm_hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def measure_peak_rss(args, text: str) -> dict:
    """Peak resident memory (MiB) of `edgevc speak TEXT --out tmp.wav`: the child's VmHWM
    (high-water mark of its own address space), polled every 10 ms until it exits.

    Not ru_maxrss from wait4: Linux carries the pre-exec high-water mark across exec, and a
    child forked (or vforked) from this benchmark process starts with *our* footprint
    (two loaded synthesizers), which then reads as the child's peak."""
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryFile() as err:
        wav = os.path.join(d, "out.wav")
        t = time.perf_counter()
        p = subprocess.Popen(speak_cmd(text, wav, args), stdout=subprocess.DEVNULL, stderr=err)
        peak = 0
        while p.poll() is None:
            peak = max(peak, _vm_hwm_kib(p.pid) or 0)
            time.sleep(0.01)
        elapsed = time.perf_counter() - t
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"speak exited {p.returncode}: {err.read().decode()[-2000:]}")
        with wave.open(wav, "rb") as w:
            audio_s = w.getnframes() / w.getframerate()
    return {"words": len(text.split()), "peak_rss_mib": peak / 1024,
            "wall_seconds": round(elapsed, 3), "audio_seconds": round(audio_s, 2)}


def context(args, bundle: Bundle) -> dict:
    import onnxruntime
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or platform.machine())
    s = bundle.summary()
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo")
                  if line.startswith(("flags", "Features"))), [])
    return {"command": command("speed"),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cpu": cpu, "nproc": os.cpu_count(), "python": platform.python_version(),
            # int8 GEMM kernels differ: VNNI / ARM dot product, or AVX2's saturating VPMADDUBSW
            "int8_dot_product": sorted(f for f in flags if "vnni" in f or f in ("asimddp", "i8mm")),
            "phase": args.phase or bundle.phase,
            "onnxruntime": onnxruntime.__version__, "edgevc": edgevc.__version__,
            "profile": args.profile, "bundle": s["path"],
            "precision": {r: m["precision"] for r, m in s["models"].items()},
            "bundle_bytes": s["total_bytes"],
            "model_bytes": {r: m["bytes"] for r, m in s["models"].items()}}


def table(res: dict) -> str:
    ctx = res["context"]
    rows = [("bundle size", f"{ctx['bundle_bytes'] / 2**20:.2f} MiB",
             "all files in manifest; " + ", ".join(
                 f"{r} {b / 2**20:.2f} MiB ({ctx['precision'][r]})"
                 for r, b in ctx["model_bytes"].items()))]
    for th in (1, 2):
        r = res[f"rtf_{th}_thread"]
        note = f"warm, median of {len(r['rtf']['runs'])}, {r['audio_seconds']} s of audio"
        if "stage_rtf" in r:
            note += "; " + ", ".join(f"{k} {v:.3f}" for k, v in r["stage_rtf"].items())
        rows.append((f"real-time factor, {th} thread{'s' * (th > 1)}",
                     f"{r['rtf']['median']:.3f}", note))
    fa = res["first_audio_1_thread"]
    rows.append(("time to first audio", f"{fa['median'] * 1000:.0f} ms",
                 f"warm, 1 thread, 10-word sentence, median of {len(fa['runs'])}"))
    cs = res["cold_start"]
    rows.append(("cold start to first audio byte", f"{cs['median'] * 1000:.0f} ms",
                 f"`edgevc speak ... --out -` subprocess, median of {len(cs['runs'])}"))
    if "compare" in res:
        c = res["compare"]
        rows.append(("speed-up over the comparison bundle", f"{c['speedup']:.2f}x",
                     f"1 thread, interleaved runs: RTF {c['rtf']['median']:.4f} vs "
                     f"{c['compare_rtf']['median']:.4f} for {c['bundle']} "
                     f"({', '.join(sorted(set(c['precision'].values())))})"))
    for m in res["peak_rss"]:
        rows.append((f"peak RSS, {m['words']} words", f"{m['peak_rss_mib']:.1f} MiB",
                     f"`edgevc speak ... --out x.wav`, {m['audio_seconds']} s of audio; "
                     "VmHWM of the process"))
    lines = ["| metric | value | notes |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, help="bundle folder (default: the shipped one)")
    ap.add_argument("--runs", type=int, help="timed runs per figure (default 5; 2 with --quick)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--profile", default="generic-x86",
                    help="device profile for chunk size and backends (threads are overridden)")
    ap.add_argument("--compare", type=Path, metavar="DIR",
                    help="second bundle to time against (e.g. the fp32 export)")
    ap.add_argument("--long-words", type=int, default=10000,
                    help="words in the long memory run (default 10,000)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke check: 2 runs, no long memory run")
    ap.add_argument("--phase", choices=PHASE_METHODS,
                    help="phase method to time (default: the bundle's)")
    args = ap.parse_args()
    runs = args.runs or (2 if args.quick else 5)
    if runs < 1:
        ap.error("--runs must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    bundle = Bundle.load(args.bundle)
    res = {"context": context(args, bundle)}
    for th in (1, 2):
        log.info("real-time factor, %d thread(s), %d runs", th, runs)
        synth = make_synth(bundle, args.profile, th, args.phase)
        stages = StageTimer(synth) if th == 1 else None
        res[f"rtf_{th}_thread"] = measure_rtf(synth, runs, stages)
        if th == 1:
            log.info("time to first audio, %d runs", runs)
            res["first_audio_1_thread"] = measure_first_audio(synth, runs)
        del synth
    if args.compare:
        other = Bundle.load(args.compare)
        log.info("speed-up against %s, %d interleaved runs", args.compare, runs)
        res["compare"] = measure_speedup(make_synth(bundle, args.profile, 1, args.phase),
                                         make_synth(other, args.profile, 1, args.phase), runs)
        res["compare"].update(bundle=str(args.compare), precision={
            r: m["precision"] for r, m in other.summary()["models"].items()})
    cold_runs = 2 if args.quick else 3
    log.info("cold start, %d runs", cold_runs)
    res["cold_start"] = measure_cold_start(args, cold_runs)
    texts = [SENTENCE] + ([] if args.quick else [long_text(args.long_words)])
    res["peak_rss"] = []
    for text in texts:
        log.info("peak RSS, %d words", len(text.split()))
        res["peak_rss"].append(measure_peak_rss(args, text))

    md = table(res)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "speed.md").write_text(
        f"# edgevc speed\n\n`{res['context']['command']}` on {res['context']['cpu']} "
        f"({res['context']['nproc']} CPUs), {res['context']['date']}\n\n{md}")
    log.info("wrote %s and %s", args.out / "speed.json", args.out / "speed.md")
    print(md, end="")


if __name__ == "__main__":
    main()
