"""`edgevc serve` under clients: first-audio latency (warm) and a mixed soak.

    python -m benchmarks.serve [--requests 1000] [--clients 20] [--latency-runs 30]
                               [--cpu 0] [--out benchmarks/results]

Starts `python -m edgevc serve` from this checkout on free loopback ports (Wyoming and
HTTP), its synthesis pinned to one core (--cpu; the profile runs one inference thread),
and talks to it with the `wyoming` package's client and aiohttp, as Home Assistant and a
kiosk script would.

  - first chunk: request sent -> first audio-chunk event (Wyoming) / first body bytes of
    the streamed WAV (HTTP), one request at a time after warm-up;
  - soak: --clients concurrent clients send --requests requests, a fixed seeded mix of
    valid ones (HTTP play false, Wyoming synthesize; several voices and settings) and
    malformed ones (bad JSON, unknown fields and voices, text over the limit, a body over
    the size limit, wrong types, Wyoming garbage). Every valid request must come back with
    audio and every malformed one with a clean error (4xx JSON / a Wyoming error event).
    The server's RSS (/proc/PID/status VmRSS) is read after a warm-up of the same mix and
    after the soak;
  - barge-in (when PyAudio and the test clock device of tests/alsa/ are there): a second
    server plays on that real-time ALSA device with 4096-frame periods; 0.5 s into a long
    utterance, POST /stop, a Wyoming stop event or SIGUSR1, --barge-in-runs times each:
    request -> the device stopped (sound off), by the device's own CLOCK_MONOTONIC log, and
    the audio it played after the request, by its own sample count.
Writes <out>/serve.json and <out>/serve.md (both overwritten) and prints the table.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeVoice

from benchmarks.machine import command, cpu_name

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["Your order is ready.", "The next train leaves at 10:45 from platform 3.",
         "Please take a ticket and wait.", "It is 10:30. Your total is $18.25.",
         "Turn left at the next corner.", "The museum closes in fifteen minutes."]
VOICES = [None, "default", "me"]


def start_server(speakers: Path | None, cpu: int | None, extra=(), env=None):
    env = dict(env or os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "edgevc", "serve", "--uri", "tcp://127.0.0.1:0",
           "--http", "127.0.0.1:0", *(["--speakers", str(speakers)] if speakers else []), *extra]
    pre = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, preexec_fn=pre)
    try:
        return p, serve_addresses(p)
    except RuntimeError as e:
        raise SystemExit(f"serve.py: {e}") from None


def serve_addresses(p: subprocess.Popen, timeout: float = 60.0) -> dict[str, str]:
    """{"wyoming": URI, "http": HOST:PORT} as a starting `edgevc serve` logs them on stderr
    (read as text); RuntimeError if it exits or takes longer than `timeout` seconds."""
    addrs: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(addrs) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start within {timeout:g} s")
        line = p.stderr.readline()
        if not line:
            raise RuntimeError(f"the server exited ({p.wait()})")
        m = re.match(r"edgevc serve: (\w+) on (\S+)", line)
        if m:
            addrs[m.group(1)] = m.group(2)
    return addrs


def load_rig():
    import importlib.util
    spec = importlib.util.spec_from_file_location("edgevc_alsa_rig", ROOT / "tests/alsa/rig.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def barge_in(runs: int, cpu: int | None):
    """{method: [(stop_ms, played_after_ms)]}, or a string saying why it was not measured."""
    try:
        import pyaudio  # noqa: F401
    except ImportError:
        return "not measured: PyAudio is not installed (pip install 'edgevc[device]')"
    rig_mod = load_rig()
    rig = rig_mod.make_rig(Path(tempfile.mkdtemp(prefix="edgevc-serve-alsa-")))
    if not rig.has_clock:
        return f"not measured: {rig.clock_error}"
    proc, addrs = start_server(None, cpu, ["--device", rig_mod.CLOCK_DEVICE,
                                           "--frames-per-buffer", "4096"], rig.env)
    t = Target(addrs)
    long_text = " ".join(TEXTS * 4)
    out = {"http /stop": [], "wyoming stop": [], "SIGUSR1": []}

    def wait(pred, timeout=30):
        deadline = time.monotonic() + timeout
        while not pred(rig.clock_events()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"clock device: {rig.clock_events()}")
            time.sleep(0.005)

    async def stop_wyoming():
        async with AsyncTcpClient(t.host, t.port) as c:
            await c.write_event(Event("stop", {"queue": "drop"}))

    async def post(path, body):
        async with aiohttp.ClientSession() as s:
            async with s.post(t.http + path, json=body) as r:
                await r.read()

    try:
        for _ in range(runs):
            for how in out:
                rig.reset()
                asyncio.run(post("/speak", {"text": long_text}))
                wait(lambda ev: any(e[0] == "start" for e in ev))
                time.sleep(0.5)
                t_stop = time.monotonic()
                if how == "http /stop":
                    asyncio.run(post("/stop", {}))
                elif how == "wyoming stop":
                    asyncio.run(stop_wyoming())
                else:
                    proc.send_signal(signal.SIGUSR1)
                wait(lambda ev: ev and ev[-1][0] == "close", 10)
                ev = rig.clock_events()
                stop = next(e for e in ev if e[0] == "stop")
                played = len(rig.clock_samples()) / 16000 - (t_stop - ev[0][1])
                out[how].append((1000 * (stop[1] - t_stop), 1000 * played))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return out


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Target:
    def __init__(self, addrs):
        self.http = addrs["http"]
        host, port = addrs["wyoming"].removeprefix("tcp://").rsplit(":", 1)
        self.host, self.port = host, int(port)


# -- one request of each kind: returns (kind, ok, first_chunk_seconds or None) --------------

async def http_speak(t: Target, session, body=None, raw=None, expect_ok=True):
    t0 = time.perf_counter()
    kw = {"data": raw, "headers": {"Content-Type": "application/json"}} if raw is not None \
        else {"json": body}
    async with session.post(t.http + "/speak", **kw) as r:
        if r.status == 200:
            first = await r.content.readany()
            t1 = time.perf_counter()
            rest = await r.read()
            ok = expect_ok and first[:4] == b"RIFF" and len(first) + len(rest) > 1000
            return ok, t1 - t0
        data = await r.read()
        try:
            clean = 400 <= r.status < 500 and isinstance(json.loads(data).get("error"), str)
        except ValueError:
            clean = False
        return (not expect_ok) and clean, None


async def wyoming_synth(t: Target, text, voice=None, expect_ok=True, raw=None):
    t0 = time.perf_counter()
    async with AsyncTcpClient(t.host, t.port) as c:
        if raw is not None:
            c._writer.write(raw)
            await c._writer.drain()
        else:
            v = SynthesizeVoice(name=voice) if voice else None
            await c.write_event(Synthesize(text=text, voice=v).event())
        first, n = None, 0
        while True:
            e = await asyncio.wait_for(c.read_event(), 60)
            if e is None:
                return False, None
            if e.type == "audio-chunk":
                n += len(e.payload or b"")
                if first is None:
                    first = time.perf_counter() - t0
            elif e.type == "audio-stop":
                return expect_ok and n > 1000, first
            elif e.type == "error":
                return (not expect_ok) and isinstance(e.data.get("text"), str), None


def make_mix(n: int, seed: int):
    """[(name, valid, coroutine factory)] in a fixed order."""
    rng = random.Random(seed)
    big = "word " * 600  # 3,000 characters: over the text limit
    kinds = [
        ("http valid", True, lambda t, s: http_speak(t, s, {
            "text": rng.choice(TEXTS), "voice": rng.choice(VOICES), "play": False,
            "rate": rng.choice([0.8, 1.0, 1.3]), "volume": 0.8, "sentence_silence": 0.1})),
        ("wyoming valid", True, lambda t, s: wyoming_synth(t, rng.choice(TEXTS), rng.choice(VOICES))),
        ("http bad json", False, lambda t, s: http_speak(t, s, raw=b'{"text": "hi', expect_ok=False)),
        ("http unknown field", False, lambda t, s: http_speak(t, s, {"text": "hi", "speed": 2},
                                                              expect_ok=False)),
        ("http unknown voice", False, lambda t, s: http_speak(t, s, {"text": "hi", "voice": "../x",
                                                                     "play": False}, expect_ok=False)),
        ("http text too long", False, lambda t, s: http_speak(t, s, {"text": big, "play": False},
                                                              expect_ok=False)),
        ("http body too large", False, lambda t, s: http_speak(
            t, s, raw=json.dumps({"text": "x" * 70000}).encode(), expect_ok=False)),
        ("http wrong type", False, lambda t, s: http_speak(t, s, {"text": 5}, expect_ok=False)),
        ("wyoming empty text", False, lambda t, s: wyoming_synth(t, "   ", expect_ok=False)),
        ("wyoming garbage", False, lambda t, s: wyoming_synth(t, None, expect_ok=False,
                                                              raw=b"not an event\n")),
    ]
    weights = [35, 35, 5, 4, 4, 4, 3, 4, 3, 3]  # 70% valid
    return [rng.choices(kinds, weights)[0] for _ in range(n)]


async def run_mix(t: Target, mix, clients: int):
    results = []
    it = iter(mix)
    timeout = aiohttp.ClientTimeout(total=120)

    async def client():
        async with aiohttp.ClientSession(timeout=timeout) as s:
            for name, valid, fn in it:
                try:
                    ok, _ = await fn(t, s)
                except Exception as e:  # a crash or a dropped connection is a failure
                    ok, name = False, f"{name} ({type(e).__name__})"
                results.append((name, valid, ok))

    await asyncio.gather(*(client() for _ in range(clients)))
    return results


async def latency(t: Target, runs: int):
    out = {"wyoming": [], "http": []}
    async with aiohttp.ClientSession() as s:
        for i in range(runs + 3):  # 3 warm-up rounds
            text = TEXTS[i % len(TEXTS)]
            _, w = await wyoming_synth(t, text)
            _, h = await http_speak(t, s, {"text": text, "play": False})
            if i >= 3:
                out["wyoming"].append(w)
                out["http"].append(h)
    return out


def stats(xs):
    xs = sorted(xs)
    return {"n": len(xs), "median_ms": round(1000 * statistics.median(xs), 1),
            "p90_ms": round(1000 * xs[int(0.9 * (len(xs) - 1))], 1),
            "max_ms": round(1000 * xs[-1], 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--latency-runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=100, help="soak requests before the first RSS")
    ap.add_argument("--barge-in-runs", type=int, default=5, help="per stop method; 0: skip")
    ap.add_argument("--cpu", type=int, default=0, help="core for the server; -1: no pinning")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    a = ap.parse_args()

    from edgevc.runtime.bundle import default_bundle_dir
    tmp = Path(tempfile.mkdtemp(prefix="edgevc-serve-bench-"))
    (tmp / "spk").mkdir()
    shutil.copy(default_bundle_dir() / "default_speaker.npy", tmp / "spk" / "me.npy")
    proc, addrs = start_server(tmp / "spk", None if a.cpu < 0 else a.cpu)
    t = Target(addrs)
    try:
        lat = asyncio.run(latency(t, a.latency_runs))
        asyncio.run(run_mix(t, make_mix(a.warmup, 1), a.clients))
        rss0 = rss_kb(proc.pid)
        t0 = time.perf_counter()
        res = asyncio.run(run_mix(t, make_mix(a.requests, 2), a.clients))
        soak_s = time.perf_counter() - t0
        rss1 = rss_kb(proc.pid)
        alive = proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    barge = barge_in(a.barge_in_runs, None if a.cpu < 0 else a.cpu) if a.barge_in_runs else "skipped"

    by_kind = {}
    for name, valid, ok in res:
        k = by_kind.setdefault(name, {"valid": valid, "sent": 0, "ok": 0})
        k["sent"] += 1
        k["ok"] += ok
    valid = [r for r in res if r[1]]
    bad = [r for r in res if not r[1]]
    report = {
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "server_cpu": a.cpu, "load_before": os.getloadavg()[0]},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                 capture_output=True, text=True).stdout.strip(),
        "first_chunk": {k: stats(v) for k, v in lat.items()},
        "soak": {"requests": len(res), "clients": a.clients, "seconds": round(soak_s, 1),
                 "valid": len(valid), "valid_with_audio": sum(r[2] for r in valid),
                 "malformed": len(bad), "malformed_clean_error": sum(r[2] for r in bad),
                 "server_alive": alive, "exit_code_on_sigterm": code,
                 "rss_before_mb": round(rss0 / 1024, 2), "rss_after_mb": round(rss1 / 1024, 2),
                 "rss_growth_mb": round((rss1 - rss0) / 1024, 2), "by_kind": by_kind},
        "barge_in": barge if isinstance(barge, str) else {
            k: {"runs": len(v), "stop_ms": [round(x, 1) for x, _ in v],
                "played_after_ms": [round(y, 1) for _, y in v]} for k, v in barge.items()},
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "serve.json").write_text(json.dumps(report, indent=2) + "\n")
    s = report["soak"]
    lines = [
        "# edgevc serve: first-chunk latency and soak",
        "",
        f"`{command('serve')}` on {report['machine']['cpu']} ({report['machine']['cores']} "
        f"cores, server pinned to core {a.cpu}, 1 inference thread), commit {report['commit']}, "
        f"{report['date']}; load average {report['machine']['load_before']:.2f} at the start "
        "(the machine was shared).",
        "",
        "First audio chunk after the request, warm, one request at a time (target: 50 ms):",
        "",
        "| client | runs | median | p90 | max |",
        "|---|---|---|---|---|",
    ]
    for k, v in report["first_chunk"].items():
        lines.append(f"| {k} | {v['n']} | {v['median_ms']} ms | {v['p90_ms']} ms | {v['max_ms']} ms |")
    lines += [
        "",
        f"Soak: {s['clients']} concurrent clients, {s['requests']} requests in {s['seconds']} s "
        "(targets: no crash, every valid request answered with audio, every malformed one with "
        "a clean error, RSS growth at most 5 MB):",
        "",
        "| | |",
        "|---|---|",
        f"| valid requests answered with audio | {s['valid_with_audio']} / {s['valid']} |",
        f"| malformed requests answered with a clean error | {s['malformed_clean_error']} / {s['malformed']} |",
        f"| server alive after the soak | {s['server_alive']} (exit {s['exit_code_on_sigterm']} on SIGTERM) |",
        f"| RSS after warm-up / after soak | {s['rss_before_mb']} / {s['rss_after_mb']} MB |",
        f"| RSS growth | {s['rss_growth_mb']} MB |",
        "",
        "| request kind | sent | as expected |",
        "|---|---|---|",
    ]
    for k, v in sorted(by_kind.items()):
        lines.append(f"| {k} | {v['sent']} | {v['ok']} |")
    lines += ["", "Barge-in on the test real-time ALSA device (tests/alsa/, 4096-frame periods), "
              "0.5 s into a long utterance (target: sound off within 100 ms):", ""]
    if isinstance(barge, str):
        lines.append(barge)
    else:
        lines += ["| stop by | runs | request -> sound off, median / max | audio played after "
                  "the request, median / max |", "|---|---|---|---|"]
        for k, v in barge.items():
            st, pl = [x for x, _ in v], [y for _, y in v]
            lines.append(f"| {k} | {len(v)} | {statistics.median(st):.1f} / {max(st):.1f} ms | "
                         f"{statistics.median(pl):.1f} / {max(pl):.1f} ms |")
    (a.out / "serve.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
