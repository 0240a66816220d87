"""TFLite (int8, fp16) against ONNX int8 on one bundle: per-graph error, whole-chain audio
agreement and speed at 1 thread.

    python -m benchmarks.tflite --bundle DIR [--runs N] [--out benchmarks/results] [--full-int8]

DIR must hold TFLite variants (`edgevc export --quantize int8 --format all -o DIR`).
Writes <out>/tflite.md (overwritten) and prints it.

- Per graph: the feeds are what the ONNX int8 chain gives for the benchmark sentences
  (whole sentences); each TFLite graph is compared with the bundle's ONNX int8 graph on
  them (max and mean absolute error, and the export's own metric for that graph).
- Whole chain: the sentences synthesized by the runtime on ONNX int8 and on TFLite. With
  the acoustic encoder on each backend, a duration that rounds to another frame shifts
  the audio, so the count of such phonemes is reported; the audio is compared with the
  durations taken from ONNX for both (decoder and vocoder on each backend, chunked as the
  runtime does): SNR (waveform) and log-spectral distance (magnitude).
- Speed: real-time factor of the runtime at 1 thread (median of --runs, after a warm-up),
  and milliseconds per call of each graph on its whole-sentence feeds.
"""

import argparse
import dataclasses
import logging
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from benchmarks.machine import command, cpu_name
from benchmarks.speed import LONG_SENTENCES, PARAGRAPH
from edgevc.audio.features import stft_magnitude
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer

ROLES = ("speaker_encoder", "acoustic_encoder", "acoustic_decoder", "vocoder")
METRIC = {"speaker_encoder": "cosine", "acoustic_encoder": "log-duration MAE",
          "acoustic_decoder": "mel MAE", "vocoder": "LSD dB"}


def synth_for(bundle, backends, precision) -> Synthesizer:
    p = dataclasses.replace(load_profile("generic-x86"), backends=tuple(backends),
                            precision=precision, threads=1)
    return Synthesizer(bundle, p)


def lsd_db(a, b, mel) -> float:
    A = 20 * np.log10(stft_magnitude(a, mel) + 1e-5)
    B = 20 * np.log10(stft_magnitude(b, mel) + 1e-5)
    return float(np.mean(np.sqrt(np.mean((A - B) ** 2, axis=1))))


def snr_db(ref, x) -> float:
    return float(10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - x) ** 2), 1e-20)))


def graph_feeds(onnx: Synthesizer) -> dict[str, list[dict]]:
    """Whole-sentence feeds for every graph, from the ONNX chain on the benchmark text."""
    from edgevc.audio.features import log_mel

    feeds = {r: [] for r in ROLES}
    spk = onnx.default_speaker[None].astype(np.float32)
    wavs = []
    for sent in onnx.sentences(" ".join(LONG_SENTENCES)):
        ids = np.array([[onnx.symbol_ids[s] for s in sent.symbols]], np.int64)
        feeds["acoustic_encoder"].append({"ids": ids, "speaker": spk})
        states, dur = onnx.durations(sent, spk)
        frames = np.repeat(states, dur, axis=0)[None]
        feeds["acoustic_decoder"].append({"frames": frames, "speaker": spk})
        mel = onnx.sessions["acoustic_decoder"].run({"frames": frames, "speaker": spk})[0]
        feeds["vocoder"].append({"mel": mel})
        wavs.append(np.concatenate(list(onnx._sentence(sent, spk, 1.0))))
    b = onnx.bundle
    for w in wavs:
        m = log_mel(w, b.speaker_mel)
        W, H = b.window_frames, b.window_hop
        wins = [m[s:s + W] for s in range(0, max(1, len(m) - W + 1), H)] if len(m) > W else [m]
        feeds["speaker_encoder"].append({"mel": np.stack(wins).astype(np.float32)})
    return feeds


def role_metric(role, ref, got, mel) -> float:
    if role == "speaker_encoder":
        a, b = np.concatenate([r[0] for r in ref]), np.concatenate([g[0] for g in got])
        return float(np.mean(np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))))
    if role == "acoustic_encoder":
        return float(np.mean([np.abs(r[1] - g[1]).mean() for r, g in zip(ref, got)]))
    if role == "acoustic_decoder":
        return float(np.mean([np.abs(r[0] - g[0]).mean() for r, g in zip(ref, got)]))
    from edgevc.audio.istft import StreamingISTFT

    def wav(o):
        s = StreamingISTFT(mel)
        return np.concatenate([s.push(o[0][0], o[1][0]), s.finish()])
    return float(np.mean([lsd_db(wav(r), wav(g), mel) for r, g in zip(ref, got)]))


def per_graph(bundle, feeds, runs) -> list[dict]:
    from edgevc.runtime.backends import create_session

    rows = []
    for role in ROLES:
        e = bundle.models[role]
        onnx = create_session(str(e.path), ["onnx-cpu"], 1)
        ref = [onnx.run(f) for f in feeds[role]]
        sessions = {"onnx int8": onnx}
        for precision in ("int8", "fp16"):
            t = e.tflite_model(precision)
            if t is not None and t.precision == precision:
                sessions[f"tflite {precision}"] = create_session(str(e.path), ["tflite"], 1, tflite=t)
        times = {name: [] for name in sessions}
        for _ in range(runs):  # interleaved, as in rtf()
            for name, s in sessions.items():
                t0 = time.perf_counter()
                for f in feeds[role]:
                    s.run(f)
                times[name].append((time.perf_counter() - t0) / len(feeds[role]) * 1e3)
        for name, s in sessions.items():
            got = [s.run(f) for f in feeds[role]]
            pairs = [(a, b) for r, g in zip(ref, got) for a, b in zip(r, g)]
            rows.append({"role": role, "backend": name, "provider": s.provider,
                         "max": max(float(np.abs(a - b).max()) for a, b in pairs),
                         "mean": float(np.mean([np.abs(a - b).mean() for a, b in pairs])),
                         "metric": role_metric(role, ref, got, bundle.synth_mel),
                         "ms": statistics.median(times[name])})
    return rows


def chain(onnx: Synthesizer, other: Synthesizer) -> dict:
    """Audio agreement of `other` with `onnx` over the benchmark sentences."""
    spk = onnx.default_speaker[None].astype(np.float32)
    moved = total = 0
    ref_all, got_all = [], []
    for sent in onnx.sentences(" ".join(LONG_SENTENCES)):
        _, d_ref = onnx.durations(sent, spk)
        _, d_got = other.durations(sent, spk)
        moved += int(np.sum(d_ref != d_got))
        total += len(d_ref)
        # Same durations for both: the decoder and vocoder on each backend, chunked.
        durations = other.durations
        other.durations = lambda s, k, ls=1.0, durations=durations, d_ref=d_ref: (
            durations(s, k, ls)[0], d_ref)
        try:
            got = np.concatenate(list(other._sentence(sent, spk, 1.0)))
        finally:
            del other.durations
        ref_all.append(np.concatenate(list(onnx._sentence(sent, spk, 1.0))))
        got_all.append(got)
    ref, got = np.concatenate(ref_all), np.concatenate(got_all)
    return {"moved": moved, "phonemes": total, "snr": snr_db(ref, got),
            "lsd": lsd_db(ref, got, onnx.bundle.synth_mel), "seconds": len(ref) / onnx.sample_rate}


def rtf(synths: dict[str, Synthesizer], runs: int) -> dict[str, tuple[float, float]]:
    """Real-time factors; the backends take turns in every run, so a load that comes and
    goes on a shared machine hits them alike."""
    seconds = {}
    for name, s in synths.items():  # warm-up: first-run allocations, XNNPACK weight packing
        seconds[name] = len(s.synthesize(PARAGRAPH)) / s.sample_rate
    times = {name: [] for name in synths}
    for _ in range(runs):
        for name, s in synths.items():
            t0 = time.perf_counter()
            s.synthesize(PARAGRAPH)
            times[name].append(time.perf_counter() - t0)
    return {n: (statistics.median(times[n]) / seconds[n], seconds[n]) for n in synths}


def full_int8(bundle, feeds) -> list[dict]:
    """Full-integer int8 (calibrated) against dynamic-range int8, both against the float
    ONNX graphs exported from the shipped checkpoints (needs edgevc[export] and the
    converter venv)."""
    import tempfile

    from edgevc.export.checkpoint_io import MODELS, load_model, shipped_dir
    from edgevc.export.onnx_export import export_all
    from edgevc.export.tflite_export import convert_graphs
    from edgevc.runtime.backends import create_session
    from edgevc.runtime.tflite_backend import TFLiteSession

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        graphs = export_all({n: load_model(shipped_dir(), n)[0] for n in MODELS}, tmp)
        made = convert_graphs([{"role": r, "onnx": tmp / g["file"], "calibration": feeds[r],
                                "precisions": ["int8", "int8-full"]} for r, g in graphs.items()], tmp)
        for role, g in graphs.items():
            f32 = create_session(str(tmp / g["file"]), ["onnx-cpu"], 1)
            ref = [f32.run(f) for f in feeds[role]]
            for p in ("int8", "int8-full"):
                s = TFLiteSession(tmp / made[role][p], 1, g["inputs"], g["outputs"])
                rows.append({"role": role, "precision": p,
                             "metric": role_metric(role, ref, [s.run(f) for f in feeds[role]],
                                                   bundle.synth_mel)})
    return rows


def report(args, bundle, graphs, chains, speeds, full) -> str:
    import ai_edge_litert
    import onnxruntime

    cmd = command("tflite")
    sizes = {f: bundle.manifest["files"][f]["bytes"] for f in bundle.manifest["files"]}
    lines = [
        "# edgevc: TFLite against ONNX int8", "",
        f"`{cmd}` on {cpu_name()} ({os.cpu_count()} CPUs), "
        f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}, load average "
        f"{os.getloadavg()[0]:.1f} at the end (a shared machine: read the ratios, the runs of "
        f"the backends are interleaved); onnxruntime "
        f"{onnxruntime.__version__}, ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')} "
        f"(XNNPACK), 1 thread everywhere. Bundle built with "
        f"`edgevc export --quantize int8 --format all`. TFLite int8 is dynamic-range "
        f"quantization (int8 weights, activations quantized at run time); fp16 stores fp16 "
        f"weights that the CPU runs in fp32.", "",
        "## Per graph, against the bundle's ONNX int8 graph", "",
        f"Whole-sentence feeds from the ONNX chain on {len(LONG_SENTENCES)} sentences. "
        "max/mean: absolute error over all outputs; metric: the export's check for that graph "
        "(cosine of embeddings; log-duration MAE; mel MAE; log-spectral distance of the "
        "vocoder's audio); ms: median per call.", "",
        "| graph | backend | max abs err | mean abs err | metric | value | ms / call | size |",
        "|---|---|---|---|---|---|---|---|"]
    for r in graphs:
        e = bundle.models[r["role"]]
        if r["backend"] == "onnx int8":
            size, err = sizes[e.path.name], ("0", "0", "")
        else:
            p = r["backend"].split()[1]
            size = sizes[f"{r['role']}.{p}.tflite"]
            err = (f"{r['max']:.3g}", f"{r['mean']:.3g}", f"{r['metric']:.4f}")
        lines.append(f"| {r['role']} | {r['backend']} | {err[0]} | {err[1]} | "
                     f"{METRIC[r['role']] if err[2] else ''} | {err[2]} | {r['ms']:.2f} | "
                     f"{size / 2**20:.2f} MiB |")
    lines += ["", "## Whole chain", "",
              f"The {len(LONG_SENTENCES)} sentences through the runtime, each backend against a "
              "reference. Same durations for both (the reference's); the decoder and vocoder run "
              "chunked as in `Synthesizer.stream`. Durations differing: phonemes whose rounded "
              "frame count changes when the acoustic encoder also runs on the other backend. "
              "TFLite fp16 computes in fp32 from fp16 weights, so it stands in for the float "
              "graphs: its distance to ONNX int8 is mostly ONNX int8's own quantization error.", "",
              "| backend vs reference | SNR dB | log-spectral distance dB | durations differing | audio |",
              "|---|---|---|---|---|"]
    for name, c in chains.items():
        lines.append(f"| {name} | {c['snr']:.1f} | {c['lsd']:.2f} | {c['moved']} of "
                     f"{c['phonemes']} | {c['seconds']:.1f} s |")
    lines += ["", "## Speed, 1 thread", "",
              f"Real-time factor of `Synthesizer.synthesize` on a 40-word paragraph, median of "
              f"{args.runs} after one warm-up (below 1 is faster than real time).", "",
              "| backend | real-time factor | audio |", "|---|---|---|"]
    for name, (r, sec) in speeds.items():
        lines.append(f"| {name} | {r:.4f} | {sec:.2f} s |")
    if full:
        lines += ["", "## Full-integer int8, rejected", "",
                  "Against the float ONNX graphs on the per-graph feeds above (`--full-int8`): "
                  "full-integer int8, calibrated on those feeds, against the dynamic-range int8 "
                  "the bundle uses. Limits are the export's.", "",
                  "| graph | metric | dynamic-range int8 | full-integer int8 | limit |",
                  "|---|---|---|---|---|"]
        from edgevc.export.bundle_writer import LIMITS
        by = {(r["role"], r["precision"]): r["metric"] for r in full}
        for role in ROLES:
            lines.append(f"| {role} | {METRIC[role]} | {by[role, 'int8']:.4f} | "
                         f"{by[role, 'int8-full']:.4f} | {LIMITS[role][1]} |")
    checks = bundle.manifest.get("quantization", {}).get("tflite_checks", {})
    if checks:
        lines += ["", "## Export checks against the float ONNX graphs (from the manifest)", "",
                  "| graph | precision | metric | value | limit |", "|---|---|---|---|---|"]
        for role, by in checks.items():
            for p, c in by.items():
                lines.append(f"| {role} | {p} | {c['metric']} | {c['value']} | {c['limit']} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True, help="bundle with TFLite int8 and fp16 variants")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--full-int8", action="store_true",
                    help="also convert full-integer int8 from the shipped checkpoints "
                         "(needs edgevc[export] and the converter venv)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bundle = Bundle.load(args.bundle)
    if not any(e.tflite for e in bundle.models.values()):
        sys.exit(f"{args.bundle}: no TFLite variants; build with --format all")
    onnx = synth_for(bundle, ["onnx-cpu"], "int8")
    tfl = {p: synth_for(bundle, ["tflite"], p) for p in ("int8", "fp16")}
    feeds = graph_feeds(onnx)
    graphs = per_graph(bundle, feeds, args.runs)
    chains = {"tflite int8 vs onnx int8": chain(onnx, tfl["int8"]),
              "tflite fp16 vs onnx int8": chain(onnx, tfl["fp16"]),
              "tflite int8 vs tflite fp16": chain(tfl["fp16"], tfl["int8"])}
    speeds = rtf({"onnx int8": onnx, **{f"tflite {p}": s for p, s in tfl.items()}}, args.runs)
    full = full_int8(bundle, feeds) if args.full_int8 else []
    md = report(args, bundle, graphs, chains, speeds, full)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tflite.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
