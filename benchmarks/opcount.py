"""Operation counts per second of audio, and Raspberry Pi 4 / Pi 5 real-time-factor estimates.

    python -m benchmarks.opcount [--bundle DIR] [--runs 3] [--out benchmarks/results]

Counts, for each graph `edgevc speak` runs (acoustic encoder, decoder, vocoder), the
multiply-accumulates (MACs) of its Conv / MatMul / Gemm nodes from the ONNX graph with
onnx shape inference, split into int8 MACs (both operands come from DequantizeLinear, so
onnxruntime runs them as QLinear* / MatMulIntegerToFloat kernels) and fp32 MACs (the
rest, e.g. the vocoder's float depthwise convs), plus elementwise work (output elements
of every other node). Graph cost is linear in the input length, so it is measured at two
lengths and applied to the input lengths the runtime really feeds when it synthesizes
speed.py's 40-word paragraph with a Pi profile's `chunk_frames` (chunks carry the
receptive radius as context on both sides, which multiplies the work). The inverse STFT
is counted as FLOPs (2.5 N log2 N per real FFT of size N, plus 3 N for window and
overlap-add).

Then it measures, on this x86 machine with 1 thread, the CPU time of each graph (thread
CPU time, so other busy processes on the machine count less), splits it into int8 GEMM
kernels and everything else with onnxruntime's profiler, and scales each part to a Pi
core by a stated per-cycle throughput ratio (see ESTIMATE_MODEL in the output). Those
ratios are assumptions from the cores' published pipeline layouts, not measurements on
a Pi; the estimate is for one core (the Pi profiles use 4 threads; how well these small
GEMMs split over 4 cores was not measured).

Writes <out>/opcount.json and prints a Markdown report.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import command
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer

log = logging.getLogger("opcount")

ROLES = ("acoustic_encoder", "acoustic_decoder", "vocoder")
GEMM_OPS = ("Conv", "MatMul", "Gemm")
# Nodes that move no data in onnxruntime (metadata or views) are not elementwise work.
FREE_OPS = {"Shape", "Constant", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Identity"}
# onnxruntime kernels that run int8 GEMM / conv arithmetic after QDQ fusion.
INT8_KERNELS = {"QLinearConv", "QLinearMatMul", "MatMulInteger", "MatMulIntegerToFloat",
                "ConvInteger", "QGemm", "DynamicQuantizeMatMul", "NhwcQLinearConv"}

# Per-core, per-cycle peak throughput. x86 figures are for this machine's core (AMD Zen 4,
# "AMD EPYC" family 25 with AVX-512 VNNI); override with --x86-* for another CPU.
#   x86 int8: VPDPBUSD on the two 256-bit multiply pipes (512-bit ops are double-pumped):
#             2 x 32 = 64 int8 MAC/cycle.  x86 fp32: two 256-bit FMA pipes = 16 FMA/cycle.
#   Cortex-A72 (Pi 4): no dot-product instructions (Armv8.0); onnxruntime's NEON int8
#             kernel widens with UMULL/SMULL, and A72 has ASIMD integer multiply on one
#             of its two 128-bit pipes only: 8 int8 MAC/cycle. fp32: FMLA on both 128-bit
#             pipes: 8 FMA/cycle.
#   Cortex-A76 (Pi 5): SDOT/UDOT (Armv8.2 dotprod) on both 128-bit pipes: 2 x 16 = 32
#             int8 MAC/cycle. fp32: 8 FMA/cycle.
# Python/numpy glue (text front end, inverse STFT, chunk loop) scales with scalar speed:
# assumed Zen 4 IPC = 2.0x A72 and 1.3x A76, which with the clocks gives Pi 5 = 2.5x Pi 4
# on scalar code, inside Raspberry Pi's own "2-3x faster than Pi 4" figure.
PI_CORES = {
    "raspberry-pi-4 @1.5 GHz": {"profile": "raspberry-pi-4", "core": "Cortex-A72", "ghz": 1.5,
                                "int8_mac_per_cycle": 8, "fp32_fma_per_cycle": 8,
                                "x86_ipc_ratio": 2.0},
    "raspberry-pi-4 @1.8 GHz": {"profile": "raspberry-pi-4", "core": "Cortex-A72", "ghz": 1.8,
                                "int8_mac_per_cycle": 8, "fp32_fma_per_cycle": 8,
                                "x86_ipc_ratio": 2.0},
    "raspberry-pi-5 @2.4 GHz": {"profile": "raspberry-pi-5", "core": "Cortex-A76", "ghz": 2.4,
                                "int8_mac_per_cycle": 32, "fp32_fma_per_cycle": 8,
                                "x86_ipc_ratio": 1.3},
}

ESTIMATE_MODEL = (
    "t_pi = t_x86_int8 * (f_x86 * P8_x86) / (f_pi * P8_pi)"
    " + t_x86_ort_rest * (f_x86 * P32_x86) / (f_pi * P32_pi)"
    " + t_x86_python * ipc_ratio * f_x86 / f_pi;  RTF = t_pi / audio seconds.  "
    "t_x86_* are 1-thread CPU seconds measured here (int8 vs rest split by onnxruntime's "
    "profiler); P8/P32 are int8 MAC/cycle and fp32 FMA/cycle per core; f are clocks. "
    "It assumes onnxruntime reaches the same fraction of peak on the Pi as here, and that "
    "elementwise work scales like fp32 SIMD width x clock (memory bandwidth not modelled). "
    "The MAC floor is int8 MACs / (f_pi * P8_pi) + fp32 MACs / (f_pi * P32_pi): the time "
    "at 100 % of peak with no other work, a lower bound."
)


# ---------------------------------------------------------------------------- op counts

@dataclasses.dataclass
class Cost:
    int8_macs: float = 0.0
    fp32_macs: float = 0.0
    elem: float = 0.0

    def __add__(self, o: Cost) -> Cost:
        return Cost(self.int8_macs + o.int8_macs, self.fp32_macs + o.fp32_macs, self.elem + o.elem)

    def scale(self, k: float) -> Cost:
        return Cost(self.int8_macs * k, self.fp32_macs * k, self.elem * k)


def _fix_dims(model, length: int):
    """A copy of `model` whose symbolic input dims are concrete: axis 1 = length, others 1."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    for inp in m.graph.input:
        dims = inp.type.tensor_type.shape.dim
        for i, d in enumerate(dims):
            if d.dim_param:
                d.ClearField("dim_param")
                d.dim_value = length if i == 1 else 1
    del m.graph.value_info[:]
    return onnx.shape_inference.infer_shapes(m, strict_mode=True)


def graph_cost(model, length: int) -> Cost:
    """MACs and elementwise outputs of one run of `model` on an input of `length`."""
    from onnx import numpy_helper

    m = _fix_dims(model, length)
    g = m.graph
    shapes = {}
    for vi in [*g.input, *g.output, *g.value_info]:
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    consts = {t.name for t in g.initializer}
    for t in g.initializer:
        shapes[t.name] = list(numpy_helper.to_array(t).shape)
    producer = {o: n for n in g.node for o in n.output}
    for n in g.node:  # constant-folded by onnxruntime: DQ of a weight, Constant
        if n.op_type == "Constant" or (n.input and all(i in consts or i == "" for i in n.input)):
            consts.update(n.output)

    def from_dq(name):
        p = producer.get(name)
        return p is not None and p.op_type == "DequantizeLinear"

    c = Cost()
    for n in g.node:
        out = shapes.get(n.output[0])
        if out is None or any(v == 0 for v in out):
            raise RuntimeError(f"no inferred shape for {n.name} ({n.op_type})")
        if n.op_type in GEMM_OPS:
            a, b = shapes[n.input[0]], shapes[n.input[1]]
            if n.op_type == "Conv":
                k = math.prod(b[1:])  # (C_in / groups) * kernel
            elif n.op_type == "MatMul":
                k = a[-1]
            else:
                trans_a = next((at.i for at in n.attribute if at.name == "transA"), 0)
                k = a[0] if trans_a else a[-1]
            macs = math.prod(out) * k
            if from_dq(n.input[0]) and from_dq(n.input[1]):
                c.int8_macs += macs
            else:
                c.fp32_macs += macs
        elif n.op_type not in FREE_OPS and not all(o in consts for o in n.output):
            c.elem += sum(math.prod(shapes[o]) for o in n.output if o in shapes)
    return c


def linear_cost(model_path: Path) -> tuple[Cost, Cost]:
    """(per input step, per call) such that cost(L) = L * step + call; checked at a third L."""
    import onnx

    model = onnx.load(str(model_path))
    c64, c128, c96 = (graph_cost(model, n) for n in (64, 128, 96))
    step = (c128 + c64.scale(-1)).scale(1 / 64)
    call = c64 + step.scale(-64)
    pred = call + step.scale(96)
    for f in ("int8_macs", "fp32_macs", "elem"):
        if abs(getattr(pred, f) - getattr(c96, f)) > 1e-6 * max(1.0, getattr(c96, f)):
            raise RuntimeError(f"{model_path.name}: {f} is not linear in the input length")
    return step, call


def istft_flops_per_second(bundle: Bundle) -> float:
    p = bundle.synth_mel
    n = p.n_fft
    per_frame = 2.5 * n * math.log2(n) + 3 * n
    return per_frame * p.sample_rate / p.hop_length


# ----------------------------------------------------------------------- x86 measurement

class CallRecorder:
    """Wraps each session's run to keep its feeds and add up its thread CPU time."""

    def __init__(self, synth: Synthesizer):
        self.calls = {r: [] for r in ROLES}
        self.cpu = dict.fromkeys(ROLES, 0.0)
        self.keep = True
        for r in ROLES:
            sess = synth.sessions[r]
            sess.run = self._wrap(r, sess.run)

    def _wrap(self, role, run):
        def timed(feeds):
            if self.keep:
                self.calls[role].append({k: v.copy() for k, v in feeds.items()})
            t = time.thread_time()
            try:
                return run(feeds)
            finally:
                self.cpu[role] += time.thread_time() - t
        return timed

    def reset(self):
        self.cpu = dict.fromkeys(ROLES, 0.0)


def input_length(feeds: dict) -> int:
    name = next(k for k in ("ids", "frames", "mel") if k in feeds)
    return feeds[name].shape[1]


def int8_share(model_path: Path, calls: list[dict], repeats: int = 3) -> dict:
    """Share of node time spent in int8 GEMM kernels, from onnxruntime's profiler."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "prof")
        s = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
        for _ in range(repeats):  # single calls are short: add up several passes
            for feeds in calls:
                s.run(None, feeds)
        events = json.loads(Path(s.end_profiling()).read_text())
    by_op: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            op = e.get("args", {}).get("op_name", "?")
            by_op[op] = by_op.get(op, 0.0) + e["dur"]
    total = sum(by_op.values()) or 1.0
    return {"int8_share": sum(v for k, v in by_op.items() if k in INT8_KERNELS) / total,
            "by_op_us": dict(sorted(by_op.items(), key=lambda kv: -kv[1]))}


def measure_x86_ghz() -> float | None:
    """Clock while running: a chain of dependent adds (1 cycle each) over thread CPU time."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or platform.machine() not in ("x86_64", "AMD64"):
        return None
    src = r"""
#include <stdio.h>
#include <time.h>
int main(void) {
    const long n = 500000000L; long x = 0; struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    for (long i = 0; i < n; i++)
        __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    printf("%.4f\n", 4.0 * n / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9) / 1e9);
    return x == 0;
}
"""
    with tempfile.TemporaryDirectory() as tmp:
        c, exe = Path(tmp) / "clk.c", Path(tmp) / "clk"
        c.write_text(src)
        subprocess.run([cc, "-O1", str(c), "-o", str(exe)], check=True, capture_output=True)
        runs = [float(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout)
                for _ in range(3)]
    return max(runs)


def measure_schedule(bundle: Bundle, profile_name: str, text: str, runs: int) -> dict:
    """Synthesize `text` with the profile's chunking on 1 thread: feeds, audio, CPU time."""
    prof = dataclasses.replace(load_profile(profile_name), threads=1, backends=("onnx-cpu",))
    synth = Synthesizer(bundle, prof)
    rec = CallRecorder(synth)
    n = len(synth.synthesize(text))  # warm-up; records the calls
    rec.keep = False
    totals, per_role = [], {r: [] for r in ROLES}
    for _ in range(runs):
        rec.reset()
        t = time.thread_time()
        synth.synthesize(text)
        totals.append(time.thread_time() - t)
        for r in ROLES:
            per_role[r].append(rec.cpu[r])
    return {"profile": profile_name, "chunk_frames": prof.chunk_frames,
            "audio_seconds": n / synth.sample_rate, "calls": rec.calls,
            "frames": n // bundle.synth_mel.hop_length,  # each sentence is frames * hop samples
            "cpu_total": statistics.median(totals),
            "cpu_role": {r: statistics.median(v) for r, v in per_role.items()}}


# ------------------------------------------------------------------------------ report

def analyse(bundle: Bundle, text: str, runs: int, x86: dict) -> dict:
    costs = {r: linear_cost(bundle.models[r].path) for r in ROLES}
    istft = istft_flops_per_second(bundle)
    out = {"x86": x86, "istft_flops_per_audio_second": istft, "schedules": {}, "estimates": {}}
    for profile in sorted({c["profile"] for c in PI_CORES.values()}):
        log.info("schedule and x86 timing with %s chunking", profile)
        sch = measure_schedule(bundle, profile, text, runs)
        audio = sch["audio_seconds"]
        roles = {}
        for r in ROLES:
            step, call = costs[r]
            lengths = [input_length(f) for f in sch["calls"][r]]
            total = Cost()
            for n in lengths:
                total = total + call + step.scale(n)
            # The same text with one call per sentence and no context: the cost of not streaming.
            sentences = len(sch["calls"]["acoustic_encoder"])
            whole = (step.scale(sum(lengths)) if r == "acoustic_encoder"
                     else step.scale(sch["frames"])) + call.scale(sentences)
            prof = int8_share(bundle.models[r].path, sch["calls"][r])
            roles[r] = {
                "calls": len(lengths), "input_steps": sum(lengths),
                "int8_macs_per_s": total.int8_macs / audio,
                "fp32_macs_per_s": total.fp32_macs / audio,
                "elem_per_s": total.elem / audio,
                "per_step": dataclasses.asdict(step), "per_call": dataclasses.asdict(call),
                "chunk_overhead": (total.int8_macs + total.fp32_macs)
                / max(1.0, whole.int8_macs + whole.fp32_macs),
                "x86_cpu_s_per_s": sch["cpu_role"][r] / audio,
                "x86_int8_share": prof["int8_share"], "x86_profile_us": prof["by_op_us"],
            }
        python_s = max(0.0, sch["cpu_total"] - sum(sch["cpu_role"].values()))
        out["schedules"][profile] = {
            "chunk_frames": sch["chunk_frames"], "audio_seconds": audio,
            "x86_cpu_rtf": sch["cpu_total"] / audio, "x86_python_cpu_s_per_s": python_s / audio,
            "roles": roles}
    for name, pi in PI_CORES.items():
        s = out["schedules"][pi["profile"]]
        f_ratio = x86["ghz"] / pi["ghz"]
        k8 = f_ratio * x86["int8_mac_per_cycle"] / pi["int8_mac_per_cycle"]
        k32 = f_ratio * x86["fp32_fma_per_cycle"] / pi["fp32_fma_per_cycle"]
        per_role, floor = {}, 0.0
        for r, v in s["roles"].items():
            t = v["x86_cpu_s_per_s"]
            per_role[r] = t * v["x86_int8_share"] * k8 + t * (1 - v["x86_int8_share"]) * k32
            floor += (v["int8_macs_per_s"] / (pi["ghz"] * 1e9 * pi["int8_mac_per_cycle"])
                      + v["fp32_macs_per_s"] / (pi["ghz"] * 1e9 * pi["fp32_fma_per_cycle"]))
        py = s["x86_python_cpu_s_per_s"] * pi["x86_ipc_ratio"] * f_ratio
        out["estimates"][name] = {**pi, "int8_ratio": k8, "fp32_ratio": k32,
                                  "rtf_1_core": sum(per_role.values()) + py,
                                  "rtf_per_role": per_role, "rtf_python": py,
                                  "rtf_mac_floor": floor}
    return out


def markdown(res: dict) -> str:
    x86 = res["x86"]
    lines = [f"Measured with `{res['command']}` on {x86['cpu']} "
             f"({x86['ghz']:.2f} GHz while running, measured), {res['date']}; "
             f"onnxruntime {res['onnxruntime']}, bundle precision "
             f"{', '.join(sorted(set(res['precision'].values())))}. Text: speed.py's 40-word "
             "paragraph.", "",
             "#### Work per second of audio (as the runtime chunks it)", "",
             "| profile (chunk_frames) | graph | calls | int8 MMAC/s | fp32 MMAC/s | "
             "elementwise M/s | chunk overhead | x86 CPU s/s (1 thread) | int8 share of x86 time |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p, s in res["schedules"].items():
        for r, v in s["roles"].items():
            lines.append(
                f"| {p} ({s['chunk_frames']}) | {r} | {v['calls']} | "
                f"{v['int8_macs_per_s'] / 1e6:.1f} | "
                f"{v['fp32_macs_per_s'] / 1e6:.1f} | {v['elem_per_s'] / 1e6:.1f} | "
                f"{v['chunk_overhead']:.2f}x | {v['x86_cpu_s_per_s']:.4f} | "
                f"{100 * v['x86_int8_share']:.0f} % |")
        tot8 = sum(v["int8_macs_per_s"] for v in s["roles"].values())
        tot32 = sum(v["fp32_macs_per_s"] for v in s["roles"].values())
        lines.append(f"| {p} ({s['chunk_frames']}) | **all graphs** | | **{tot8 / 1e6:.1f}** | "
                     f"**{tot32 / 1e6:.1f}** | | | **{s['x86_cpu_rtf']:.4f}** (whole synthesis; "
                     f"Python/numpy part {s['x86_python_cpu_s_per_s']:.4f}) | |")
    lines += ["", f"Inverse STFT: {res['istft_flops_per_audio_second'] / 1e6:.2f} MFLOP per "
              "second of audio (not a MAC cost that matters next to the graphs). `chunk "
              "overhead` is the chunked MACs divided by one whole-utterance call's MACs: the "
              "price of streaming with receptive-radius context on both sides of each chunk.",
              "", "#### Pi real-time-factor estimates (one core, onnxruntime int8)", "",
              "| board | core, clock | int8 / fp32 scale vs this x86 | est. RTF, 1 core | "
              "of which encoder / decoder / vocoder / Python | MAC floor (100 % of peak) |",
              "|---|---|---|---|---|---|"]
    for name, e in res["estimates"].items():
        pr = e["rtf_per_role"]
        lines.append(
            f"| {name.split(' @')[0]} | {e['core']} @ {e['ghz']} GHz | "
            f"{e['int8_ratio']:.1f}x / {e['fp32_ratio']:.1f}x | **{e['rtf_1_core']:.3f}** | "
            f"{pr['acoustic_encoder']:.3f} / {pr['acoustic_decoder']:.3f} / {pr['vocoder']:.3f} / "
            f"{e['rtf_python']:.3f} | {e['rtf_mac_floor']:.4f} |")
    lines += ["", f"Model: {ESTIMATE_MODEL}", "",
              f"Assumed per-core peaks: this x86 {x86['int8_mac_per_cycle']} int8 MAC/cycle, "
              f"{x86['fp32_fma_per_cycle']} fp32 FMA/cycle; Cortex-A72 8 / 8 (no SDOT: "
              "int8 products go through the one ASIMD integer-multiply pipe); Cortex-A76 "
              "32 / 8 (SDOT on both ASIMD pipes). Python glue: Zen 4 IPC taken as 2.0x A72 "
              "and 1.3x A76. These are not Pi measurements: treat the estimates as within a "
              "factor of about 2, and the Pi 5 / Pi 4 ratio as the firmer figure."]
    return "\n".join(lines) + "\n"


def run(bundle_dir: Path | None, runs: int, x86_overrides: dict) -> dict:
    import onnxruntime

    from benchmarks.speed import PARAGRAPH  # the same text speed.py times

    bundle = Bundle.load(bundle_dir)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    ghz = x86_overrides.get("ghz") or measure_x86_ghz()
    if ghz is None:
        raise SystemExit("cannot measure this CPU's clock (needs cc on x86-64); pass --x86-ghz")
    x86 = {"cpu": cpu, "ghz": ghz,
           "int8_mac_per_cycle": x86_overrides.get("int8") or 64,
           "fp32_fma_per_cycle": x86_overrides.get("fp32") or 16}
    res = analyse(bundle, PARAGRAPH, runs, x86)
    res.update({"command": command("opcount"),
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "onnxruntime": onnxruntime.__version__, "bundle": str(bundle.root),
                "precision": {r: bundle.models[r].precision for r in ROLES},
                "estimate_model": ESTIMATE_MODEL})
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, help="bundle folder (default: the shipped one)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per schedule (median)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--x86-ghz", type=float, help="this CPU's running clock (default: measured)")
    ap.add_argument("--x86-int8-macs", type=int,
                    help="int8 MAC/cycle of this CPU (default 64, Zen 4)")
    ap.add_argument("--x86-fp32-fmas", type=int,
                    help="fp32 FMA/cycle of this CPU (default 16, Zen 4)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    res = run(args.bundle, args.runs,
              {"ghz": args.x86_ghz, "int8": args.x86_int8_macs, "fp32": args.x86_fp32_fmas})
    md = markdown(res)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "opcount.json").write_text(json.dumps(res, indent=2) + "\n")
    log.info("wrote %s", args.out / "opcount.json")
    print(md, end="")


if __name__ == "__main__":
    main()
