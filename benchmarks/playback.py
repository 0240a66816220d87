"""How fast Ctrl-C / SIGTERM silence `edgevc speak`, and whether a finished utterance plays
to its last sample, measured on a real-time ALSA device without a sound card.

    python -m benchmarks.playback [--runs 5] [--frames-per-buffer 1024 2048] [--out benchmarks/results]

The device is the test clock PCM (tests/alsa/pcm_edgevc_clock.c, built with `cc`; needs
PyAudio and the ALSA headers): it plays at the stream rate, drops queued audio when the
stream is aborted, and logs start/stop/close times in CLOCK_MONOTONIC, the clock
time.monotonic() reads here. The checkout this script lives in is what runs
(`python -m edgevc` from the repository root), selected through a device profile (a copy of
generic-x86.toml with `audio.device` and `audio.frames_per_buffer` set), so older
checkouts that lack `--device` can be measured the same way.

Per frames-per-buffer value:
  - one clean run of SENTENCE: samples synthesized (`--out x.wav`) vs. played, underruns;
  - `--runs` SIGINT and `--runs` SIGTERM sent 0.5 s after the device starts playing LONG:
    signal -> device stopped (sound off), -> device closed, -> process exited, and the
    audio the device played after the signal, by its own count.
Writes <out>/playback.json and <out>/playback.md (both overwritten) and prints the table.
"""

import argparse
import importlib.util
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.machine import command, cpu_name

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "Please take the second left after the old train station."
LONG = ("This sentence is long enough to keep the speaker busy for several seconds, so that "
        "it can be stopped halfway through. After it comes another one, and then a third, "
        "which nobody should ever hear to the end.")


def load_rig():
    spec = importlib.util.spec_from_file_location("edgevc_alsa_rig", ROOT / "tests/alsa/rig.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def write_profile(folder: Path, device: str, fpb: int) -> Path:
    text = (ROOT / "firmware_configs/generic-x86.toml").read_text()
    text = re.sub(r"(?m)^frames_per_buffer = \d+", f"frames_per_buffer = {fpb}", text)
    text = re.sub(r'(?m)^device = ".*"', f'device = "{device}"', text)
    path = folder / f"profile-{fpb}.toml"
    path.write_text(text)
    return path


def edgevc(rig, *args, **kw):
    return subprocess.Popen([sys.executable, "-m", "edgevc", *map(str, args)], cwd=ROOT,
                            env=rig.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def clean_run(rig, profile: Path, folder: Path) -> dict:
    wav = folder / "sentence.wav"
    p = edgevc(rig, "speak", SENTENCE, "--out", wav, "--profile", profile)
    _, err = p.communicate(timeout=300)
    if p.returncode:
        raise SystemExit(f"edgevc speak --out failed: {err}")
    import soundfile as sf
    synth = sf.read(wav, dtype="int16")[0]
    rig.reset()
    p = edgevc(rig, "speak", SENTENCE, "--profile", profile, "--json")
    out, err = p.communicate(timeout=300)
    if p.returncode:
        raise SystemExit(f"edgevc speak failed: {err}")
    played = rig.clock_samples()
    n = min(len(played), len(synth))
    return {"synthesized_samples": int(len(synth)), "played_samples": int(len(played)),
            "prefix_identical": bool(np.array_equal(played[:n], synth[:n])),
            "samples_lost_at_end": int(max(0, len(synth) - len(played))),
            "underruns": json.loads(out)["underruns"],
            "xruns": sum(e[0] == "xrun" for e in rig.clock_events())}


def interrupt_run(rig, profile: Path, sig: signal.Signals) -> dict:
    rig.reset()
    p = edgevc(rig, "speak", LONG, "--profile", profile)
    deadline = time.monotonic() + 120
    while not any(e[0] == "start" for e in rig.clock_events()):
        if p.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"playback never started: {p.communicate()[1]}")
        time.sleep(0.005)
    time.sleep(0.5)
    t_sig = time.monotonic()
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    t_exit = time.monotonic()
    ev = rig.clock_events()
    start = ev[0][1]
    stop = next(e for e in ev if e[0] == "stop")
    close = next((e for e in ev if e[0] == "close"), None)
    return {"signal": sig.name, "exit_code": p.returncode, "traceback": "Traceback" in err,
            "stop_ms": (stop[1] - t_sig) * 1e3,
            "close_ms": None if close is None else (close[1] - t_sig) * 1e3,
            "exit_ms": (t_exit - t_sig) * 1e3,
            "played_after_signal_ms": (stop[2] / 16000 - (t_sig - start)) * 1e3}


def summary(values):
    return {"median": statistics.median(values), "max": max(values)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="signals of each kind per setting")
    ap.add_argument("--frames-per-buffer", type=int, nargs="+", default=[1024, 2048])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="edgevc-playback-") as tmp:
        results = measure(args, Path(tmp))
    report(args, argv, results)


def measure(args, folder: Path) -> list:
    rig_mod = load_rig()
    rig = rig_mod.make_rig(folder)
    if not rig.has_clock:
        raise SystemExit(rig.clock_error)
    names, err = rig.outputs()
    if rig_mod.CLOCK_DEVICE not in names:
        raise SystemExit(f"PortAudio does not list {rig_mod.CLOCK_DEVICE}: {err or names}")

    results = []
    for fpb in args.frames_per_buffer:
        profile = write_profile(folder, rig_mod.CLOCK_DEVICE, fpb)
        clean = clean_run(rig, profile, folder)
        runs = [interrupt_run(rig, profile, sig)
                for _ in range(args.runs) for sig in (signal.SIGINT, signal.SIGTERM)]
        results.append({"frames_per_buffer": fpb, "clean": clean, "interrupts": runs})
        print(f"frames_per_buffer {fpb}: done", file=sys.stderr)
    return results


def report(args, argv, results: list) -> None:
    cmd = command("playback", argv)
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip()
    ctx = {"command": cmd.strip(), "date": when, "cpu": cpu_name(), "cpus": os.cpu_count(),
           "python": platform.python_version(), "checkout": git}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "playback.json").write_text(json.dumps({"context": ctx, "results": results}, indent=2))

    lines = ["# edgevc playback", "",
             f"`{ctx['command']}` on {ctx['cpu']} ({ctx['cpus']} CPUs), checkout "
             f"{git or 'unknown'}, {when}", "",
             "| frames/buffer | signal -> sound off | -> device closed | -> process exit "
             "| audio played after signal | exit codes | traceback | clean run: samples lost at end "
             "| clean run: underruns |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        ints = r["interrupts"]
        f = {k: summary([x[k] for x in ints if x[k] is not None])
             for k in ("stop_ms", "close_ms", "exit_ms", "played_after_signal_ms")}
        codes = sorted({f"{x['signal']} {x['exit_code']}" for x in ints})
        c = r["clean"]
        lines.append(
            f"| {r['frames_per_buffer']} "
            + "".join(f"| {f[k]['median']:.1f} ms (max {f[k]['max']:.1f}) "
                      for k in ("stop_ms", "close_ms", "exit_ms", "played_after_signal_ms"))
            + f"| {', '.join(codes)} | {'yes' if any(x['traceback'] for x in ints) else 'none'} "
            + f"| {c['samples_lost_at_end']} of {c['synthesized_samples']} "
            + f"| {c['underruns']} (device xruns {c['xruns']}) |")
    lines += ["", f"Median (max) over {args.runs} SIGINT + {args.runs} SIGTERM per row, each sent "
              "0.5 s into playback of a 3-sentence text on the test clock device "
              "(tests/alsa/pcm_edgevc_clock.c, real time, 16 kHz). \"Sound off\" is when the "
              "device stopped playing (queued audio dropped); \"audio played after signal\" is "
              "the device's own count of frames played minus the frames due at the signal. "
              "\"Process exit\" is mostly Python and onnxruntime teardown after the device "
              "is closed; a run that ends normally spends a similar time there. \"Samples "
              "lost at end\": synthesized (`--out`) minus played, for an uninterrupted run."]
    md = "\n".join(lines) + "\n"
    (args.out / "playback.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
