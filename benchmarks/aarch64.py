"""`edgevc speak` on 64-bit Arm under qemu-user, compared with the same run on x86.

    python -m benchmarks.aarch64                      # set up (once), run, compare, report
    python -m benchmarks.aarch64 --setup-only         # just build the aarch64 environment
    python -m benchmarks.aarch64 --cpus cortex-a72 --no-estimate --out /tmp/r
    python -m benchmarks.aarch64 --tflite-bundle DIR  # also LiteRT, on DIR's .tflite graphs

Builds, in --cache (default ~/.cache/edgevc/aarch64; nothing lands in the repository):
  1. qemu-aarch64-static (Debian qemu-user-static; installed with apt-get when missing
     and running as root),
  2. an arm64 Debian sysroot holding python3.N and the libraries it links, from Debian
     packages fetched with a private apt configuration (the host's apt state is not
     touched) and unpacked with dpkg-deb -x; no binfmt_misc registration is needed, the
     emulator is called directly with -L SYSROOT,
  3. aarch64 wheels of the runtime dependencies, pinned to the versions installed on this
     x86 host, installed with pip --target for the emulated Python.
Each step is skipped when its stamp file says it is done.

Then, for each --cpus model (Cortex-A72 = Pi 4: no dot-product instructions; Cortex-A76 =
Pi 5: SDOT/UDOT, so onnxruntime takes a different int8 kernel path), it runs
`python -m edgevc speak SENTENCE --profile P --out x.wav --json` with the source tree on
PYTHONPATH under qemu, runs the same on x86, and compares the WAVs. The profile P is the
Pi 4 profile with backends = onnx-cpu and threads = 1, written to the cache and used on
both sides, so chunking and threading match. It also runs each graph on identical inputs
under both interpreters to show where the two differ, and (when torch is installed, for
the float export) compares both against the float model.

With --tflite-bundle DIR (a bundle from `edgevc export --quantize int8 --format tflite`)
it speaks the same sentences with backends = [tflite, onnx-cpu] on both sides too.

Writes <out>/aarch64.json and <out>/aarch64.md (with benchmarks/opcount.py's Pi
estimates unless --no-estimate) and prints the Markdown.

qemu's wall-clock time is reported, but it is the speed of an emulator on this machine,
not an estimate of how fast a Pi runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benchmarks.machine import command

REPO = Path(__file__).resolve().parent.parent
log = logging.getLogger("aarch64")

SENTENCES = [
    "Hello! Your order number is 4127, and it ships on March 3rd.",
    "The next train to the airport leaves from platform 7 at 6:45.",
    "Battery level is 23 percent; please connect the charger within the hour.",
    "Thank you for calling. All of our agents are busy, but your call matters to us.",
]
# Runtime dependencies for the emulated Python (numpy, onnxruntime, click, soundfile) and
# the TFLite interpreter, each pinned to the host's version so both sides run the same code.
WHEELS = ("numpy", "onnxruntime", "click", "soundfile", "ai-edge-litert")
# Debian packages pulled in by python3.N that `edgevc speak` never needs (perl via mailcap).
SKIP_DEBS = {"dpkg", "install-info", "perl", "perl-base", "perl-modules-5.36", "libperl5.36",
             "tar", "mailcap", "mime-support", "libgdbm-compat4"}
# What /proc/cpuinfo says on the real cores (MIDR part numbers from Arm's TRMs).
CPUINFO = {
    "cortex-a72": ("0xd08", "fp asimd evtstrm crc32 cpuid"),
    "cortex-a76": ("0xd0b", "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
                            "asimdhp cpuid asimdrdm lrcpc dcpop asimddp"),
}
PASS = {"lsd_vs_float_ratio": 1.10, "logmel_vs_float_ratio": 1.10}


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    log.debug("$ %s", shlex.join(cmd))
    return subprocess.run(cmd, check=True, **kw)


# ------------------------------------------------------------------------------- setup

def debian_suite() -> str:
    info = dict(line.rstrip().split("=", 1) for line in open("/etc/os-release") if "=" in line)
    if info.get("ID") != "debian":
        raise SystemExit("this script fetches arm64 packages from Debian; run it on Debian")
    return info["VERSION_CODENAME"].strip('"')


def find_qemu() -> str:
    for name in ("qemu-aarch64-static", "qemu-aarch64"):
        if shutil.which(name):
            return shutil.which(name)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log.info("installing qemu-user-static with apt-get")
        sh(["apt-get", "install", "-y", "-q", "qemu-user-static"], stdout=subprocess.DEVNULL)
        return shutil.which("qemu-aarch64-static")
    raise SystemExit("qemu-aarch64-static not found: apt-get install qemu-user-static")


class AptArm64:
    """apt-get / apt-cache with their own state under cache/apt, for arm64 only."""

    def __init__(self, root: Path, suite: str):
        self.root = root
        for d in ("etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d",
                  "state/lists/partial", "cache/archives/partial"):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "state/status").touch()
        key = "/usr/share/keyrings/debian-archive-keyring.gpg"
        src = [f"deb [arch=arm64 signed-by={key}] http://deb.debian.org/debian {suite} main",
               f"deb [arch=arm64 signed-by={key}] http://deb.debian.org/debian {suite}-updates main",
               f"deb [arch=arm64 signed-by={key}] http://deb.debian.org/debian-security "
               f"{suite}-security main"]
        (root / "etc/sources.list").write_text("\n".join(src) + "\n")
        self.opts = [f"-oDir::Etc={root}/etc", f"-oDir::State={root}/state",
                     f"-oDir::State::status={root}/state/status", f"-oDir::Cache={root}/cache",
                     "-oAPT::Architecture=arm64", "-oAPT::Architectures::=arm64"]

    def update(self):
        sh(["apt-get", *self.opts, "-q", "update"], stdout=subprocess.DEVNULL)

    def closure(self, pkgs: list[str]) -> list[str]:
        out = sh(["apt-cache", *self.opts, "depends", "--recurse", "--no-recommends",
                  "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                  "--no-enhances", "--no-pre-depends", *pkgs],
                 capture_output=True, text=True).stdout
        names = {ln.strip() for ln in out.splitlines() if ln and not ln[0].isspace()
                 and not ln.startswith("<")}
        return sorted(names - SKIP_DEBS)

    def python_version(self) -> str:
        out = sh(["apt-cache", *self.opts, "depends", "python3"],
                 capture_output=True, text=True).stdout
        m = re.search(r"Depends: python3\.(\d+)\b", out)
        if not m:
            raise SystemExit("cannot tell which python3.N Debian's python3 depends on")
        return f"3.{m.group(1)}"

    def download(self, pkgs: list[str], dest: Path):
        dest.mkdir(parents=True, exist_ok=True)
        sh(["apt-get", *self.opts, "-q", "download", *pkgs], cwd=dest,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclasses.dataclass
class Env:
    qemu: str
    sysroot: Path
    python: Path
    pyver: str
    site: Path
    wheels: dict
    cache: Path

    def cmd(self, cpu: str, args: list[str]) -> list[str]:
        return [self.qemu, "-cpu", cpu, "-L", str(self.sysroot), str(self.python), *args]

    def env(self) -> dict:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.cache),
                "LANG": "C.UTF-8", "PYTHONPATH": f"{REPO}{os.pathsep}{self.site}",
                "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1",
                # x86 and aarch64 CPython 3.N share a bytecode format; keep ours out of the repo
                "PYTHONPYCACHEPREFIX": str(self.cache / "pycache")}

    def set_cpu(self, cpu: str):
        """qemu-user passes the host's /proc/cpuinfo through, and onnxruntime's cpuinfo
        library crashes parsing x86 text as Arm. -L makes the emulated process see
        SYSROOT/proc/cpuinfo instead, so write one that matches the emulated core. It must
        match: cpuinfo trusts the MIDR part number (it whitelists SDOT for Cortex-A76
        whatever HWCAP says), so an A76 cpuinfo under -cpu cortex-a72 makes XNNPACK run
        SDOT kernels and die with SIGILL, a fault of the emulation, not of the Pi."""
        part, feats = CPUINFO[cpu]
        block = ("processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {f}\nCPU implementer\t: 0x41\n"
                 "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: {p}\nCPU revision\t: 1\n\n")
        (self.sysroot / "proc").mkdir(exist_ok=True)
        (self.sysroot / "proc/cpuinfo").write_text(
            "".join(block.format(i=i, f=feats, p=part) for i in range(os.cpu_count() or 1)))


def host_versions() -> dict:
    pins = {}
    for name in WHEELS:
        try:
            pins[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name != "ai-edge-litert":
                raise SystemExit(f"{name} is not installed on this host: pip install -e .") from None
    return pins


def setup(cache: Path) -> Env:
    cache.mkdir(parents=True, exist_ok=True)
    qemu = find_qemu()
    suite = debian_suite()
    apt = AptArm64(cache / "apt", suite)
    sysroot = cache / "sysroot"
    stamp = cache / "sysroot.done"
    if not stamp.exists():
        log.info("arm64 sysroot: apt-get update (%s)", suite)
        apt.update()
        pyver = apt.python_version()
        pkgs = apt.closure([f"python{pyver}", "libstdc++6"])
        log.info("arm64 sysroot: %d Debian packages for python%s", len(pkgs), pyver)
        debs = cache / "debs"
        apt.download(pkgs, debs)
        if sysroot.exists():
            shutil.rmtree(sysroot)
        for deb in sorted(debs.glob("*.deb")):
            sh(["dpkg-deb", "-x", str(deb), str(sysroot)])
        stamp.write_text(json.dumps({"python": pyver, "packages": pkgs}) + "\n")
    pyver = json.loads(stamp.read_text())["python"]
    python = sysroot / f"usr/bin/python{pyver}"

    pins = host_versions()
    tag = "".join(c for c in pyver if c.isdigit())
    key = hashlib.sha256(json.dumps(pins, sort_keys=True).encode()).hexdigest()[:10]
    site = cache / f"site-cp{tag}-{key}"
    wheels = cache / "wheels"
    # manylinux tags a glibc-2.36 (bookworm) aarch64 system accepts; pip --platform does not
    # expand them itself.
    plat = [a for v in (17, 24, 26, 27, 28, 31, 34, 35, 36)
            for a in ("--platform", f"manylinux_2_{v}_aarch64")]
    plat += ["--platform", "manylinux2014_aarch64", "--platform", "linux_aarch64"]
    pipargs = [*plat, "--only-binary=:all:", "--python-version", pyver,
               "--implementation", "cp", "--abi", f"cp{tag}"]
    if not (site / ".done").exists():
        reqs = [f"{n}=={v}" for n, v in pins.items()]
        download = [sys.executable, "-m", "pip", "download", "-q", "--dest", str(wheels), *pipargs]
        try:
            sh([*download, *reqs])
        except subprocess.CalledProcessError:
            if "ai-edge-litert" not in pins:
                raise
            log.warning("no aarch64 wheel of ai-edge-litert==%s; going on without TFLite",
                        pins.pop("ai-edge-litert"))
            reqs = [f"{n}=={v}" for n, v in pins.items()]
            sh([*download, *reqs])
        if site.exists():
            shutil.rmtree(site)
        sh([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheels),
            "--target", str(site), "--no-warn-conflicts", *pipargs, *reqs],
           stderr=subprocess.DEVNULL)
        (site / ".done").write_text(json.dumps(pins) + "\n")
    env = Env(qemu, sysroot, python, pyver, site, json.loads((site / ".done").read_text()), cache)
    env.set_cpu("cortex-a72")
    probe = sh(env.cmd("cortex-a72", ["-c", "import platform, numpy, onnxruntime, soundfile; "
                                      "print(platform.machine(), platform.python_version())"]),
               env=env.env(), capture_output=True, text=True).stdout.split()
    if probe[0] != "aarch64":
        raise SystemExit(f"emulated python reports {probe[0]}, not aarch64")
    env.wheels["python"] = probe[1]
    return env


# ------------------------------------------------------------------------- comparisons

def compare_profile(cache: Path, tflite: bool = False) -> Path:
    """The Pi 4 profile, 1 thread, onnxruntime CPU only (or TFLite, then onnxruntime):
    the same on both sides."""
    from edgevc.runtime.profiles import load_profile

    pi = load_profile("raspberry-pi-4")
    name = "aarch64-compare-tflite" if tflite else "aarch64-compare"
    backends = '["tflite", "onnx-cpu"]' if tflite else '["onnx-cpu"]'
    what = "TFLite, then onnxruntime CPU" if tflite else "onnxruntime CPU"
    text = (f'name = "{name}"\ndescription = "benchmarks/aarch64.py: raspberry-pi-4 '
            f'chunking, {what}, 1 thread"\n[inference]\nbackends = {backends}\n'
            f'precision = "{pi.precision}"\nthreads = 1\nchunk_frames = {pi.chunk_frames}\n'
            f'[buffer]\nring_seconds = {pi.ring_seconds}\n[memory]\nbudget_mb = '
            f'{pi.memory_budget_mb}\n[audio]\nframes_per_buffer = {pi.frames_per_buffer}\n'
            f'device = ""\n')
    p = cache / f"{name}.toml"
    p.write_text(text)
    return p


def speak(cmd: list[str], env: dict, text: str, profile: Path, wav: Path,
          bundle: Path | None = None) -> dict:
    extra = ["--bundle", str(bundle)] if bundle else []
    t = time.perf_counter()
    p = subprocess.run([*cmd, "-m", "edgevc", "speak", text, "--profile", str(profile),
                        "--out", str(wav), "--json", *extra], env=env, cwd=REPO,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"edgevc speak exited {p.returncode}: {p.stderr[-2000:]}")
    info = json.loads(p.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "rtf": info["rtf"], "audio_s": info["audio_seconds"],
            "providers": info.get("providers")}


def metrics(x, ref, mel_params) -> dict:
    """How far x is from ref: sample counts, max |diff|, SNR, log-spectral distance, log-mel MAE."""
    import numpy as np

    from edgevc.audio.features import log_mel, stft_magnitude

    out = {"samples": len(x), "samples_ref": len(ref), "same_length": len(x) == len(ref)}
    n = min(len(x), len(ref))
    x, ref = x[:n].astype(np.float64), ref[:n].astype(np.float64)
    e = x - ref
    out["max_abs"] = float(np.abs(e).max())
    out["snr_db"] = float(10 * np.log10(np.sum(ref ** 2) / max(np.sum(e ** 2), 1e-20)))
    # The bundle's own vocoder quantization check: LSD in dB over 1024-point STFT frames.
    a = 20 * np.log10(stft_magnitude(x, mel_params) + 1e-5)
    b = 20 * np.log10(stft_magnitude(ref, mel_params) + 1e-5)
    out["lsd_db"] = float(np.mean(np.sqrt(np.mean((a - b) ** 2, axis=1))))
    out["logmel_mae"] = float(np.abs(log_mel(x, mel_params) - log_mel(ref, mel_params)).mean())
    return out


def float_references(cache: Path, profile: Path, texts: list[str]):
    """Each sentence through the int8 encoder (same durations) and the float decoder and
    vocoder: the model the int8 graphs approximate. None when torch is not installed."""
    try:
        import torch  # noqa: F401  (the float export needs it)

        from edgevc.export.bundle_writer import build_bundle
    except ImportError as e:
        log.warning("no float reference (%s): pip install -e .[export] for it", e)
        return None
    from edgevc.runtime.backends import create_session
    from edgevc.runtime.bundle import Bundle
    from edgevc.runtime.profiles import load_profile
    from edgevc.runtime.synthesizer import Synthesizer

    shipped = Bundle.load()
    fdir = cache / "float_bundle"
    stamp = cache / "float_bundle.json"
    want = json.dumps(shipped.manifest.get("checkpoints"), sort_keys=True)
    if not stamp.exists() or stamp.read_text() != want:
        log.info("exporting the float graphs of the shipped checkpoints")
        build_bundle(fdir, "none", progress=False)
        got = json.dumps(Bundle.load(fdir).manifest.get("checkpoints"), sort_keys=True)
        if got != want:
            log.warning("the checkpoints in export/ differ from the shipped bundle's; "
                        "no float reference")
            return None
        stamp.write_text(want)
    prof = load_profile(str(profile))
    synth = Synthesizer(shipped, prof)
    for role in ("acoustic_decoder", "vocoder"):
        synth.sessions[role] = create_session(str(fdir / f"{role}.onnx"), prof.backends, 1)
    return [synth.synthesize(t) for t in texts]


GRAPH_WORKER = r"""
import sys, numpy as np, onnxruntime as ort
inp, out, bundle = dict(np.load(sys.argv[1])), sys.argv[2], sys.argv[3]
so = ort.SessionOptions(); so.intra_op_num_threads = 1
res = {}
for g, feeds in (("speaker_encoder", {"mel": inp["smel"]}),
                 ("acoustic_encoder", {"ids": inp["ids"], "speaker": inp["speaker"]}),
                 ("acoustic_decoder", {"frames": inp["frames"], "speaker": inp["speaker"]}),
                 ("vocoder", {"mel": inp["mel"]})):
    s = ort.InferenceSession(f"{bundle}/{g}.onnx", so, providers=["CPUExecutionProvider"])
    for o, v in zip(s.get_outputs(), s.run(None, feeds)):
        res[f"{g}.{o.name}"] = v
np.savez(out, **res)
"""


TFLITE_GRAPH_WORKER = r"""
import sys, numpy as np
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.tflite_backend import TFLiteSession
inp, out, bundle = dict(np.load(sys.argv[1])), sys.argv[2], Bundle.load(sys.argv[3])
res = {}
for g, feeds in (("speaker_encoder", {"mel": inp["smel"]}),
                 ("acoustic_encoder", {"ids": inp["ids"], "speaker": inp["speaker"]}),
                 ("acoustic_decoder", {"frames": inp["frames"], "speaker": inp["speaker"]}),
                 ("vocoder", {"mel": inp["mel"]})):
    t = bundle.models[g].tflite_model("int8")
    s = TFLiteSession(t.path, 1, t.input_names, t.output_names)
    for name, v in zip(t.output_names, s.run(feeds)):
        res[f"{g}.{name}"] = v
np.savez(out, **res)
"""


def graph_accuracy(outs: dict, ref: dict, mel_params) -> dict:
    """The export's own per-graph checks against the float graphs' outputs on the same
    inputs: cosine, log-duration MAE, mel MAE, and LSD of the vocoder's inverse STFT."""
    import numpy as np

    from edgevc.audio.istft import StreamingISTFT

    def wav(d):
        s = StreamingISTFT(mel_params)
        return np.concatenate([s.push(d["vocoder.real"][0], d["vocoder.imag"][0]), s.finish()])

    a, b = outs["speaker_encoder.embedding"].ravel(), ref["speaker_encoder.embedding"].ravel()
    return {
        "speaker_encoder cosine": float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))),
        "acoustic_encoder log_duration_mae": float(np.abs(
            outs["acoustic_encoder.log_durations"] - ref["acoustic_encoder.log_durations"]).mean()),
        "acoustic_decoder mel_mae": float(np.abs(
            outs["acoustic_decoder.mel"] - ref["acoustic_decoder.mel"]).mean()),
        "vocoder lsd_db": metrics(wav(outs), wav(ref), mel_params)["lsd_db"],
    }


def graph_inputs(path: Path, profile: Path, text: str):
    """Real inputs for every graph, from the x86 pipeline on `text`."""
    import numpy as np

    from edgevc.audio.features import log_mel
    from edgevc.runtime.profiles import load_profile
    from edgevc.runtime.synthesizer import Synthesizer

    s = Synthesizer(profile=load_profile(str(profile)))
    sent = max(s.sentences(text), key=lambda x: len(x.symbols))
    spk = s.default_speaker.astype(np.float32)[None]
    ids = np.array([[s.symbol_ids[x] for x in sent.symbols]], dtype=np.int64)
    states, dur = s.durations(sent, spk)
    frames = np.repeat(states, dur, axis=0)[None]
    mel = s.sessions["acoustic_decoder"].run({"frames": frames, "speaker": spk})[0]
    wav = s.synthesize(text)
    w = s.bundle.window_frames
    smel = log_mel(wav, s.bundle.speaker_mel)[:w][None]
    if smel.shape[1] < w:
        smel = np.pad(smel, ((0, 0), (0, w - smel.shape[1]), (0, 0)), mode="edge")
    np.savez(path, ids=ids, speaker=spk, frames=frames, mel=mel, smel=smel.astype(np.float32))
    return str(s.bundle.root)


def graph_diffs(a: dict, b: dict) -> dict:
    import numpy as np

    out = {}
    for k in a:
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        d = np.abs(x - y)
        out[k] = {"shape": list(x.shape), "max_abs": float(d.max()), "mean_abs": float(d.mean()),
                  "max_ref": float(np.abs(x).max()), "exact_share": float((d == 0).mean())}
    return out


def hwcap_dotprod(env: Env, cpu: str) -> bool:
    """Whether the emulated core advertises SDOT/UDOT (HWCAP_ASIMDDP, bit 20 of AT_HWCAP):
    what onnxruntime checks to pick its dot-product int8 kernels."""
    code = ("import ctypes; g = ctypes.CDLL(None).getauxval; g.restype = ctypes.c_ulong; "
            "print(g(16) >> 20 & 1)")
    out = sh(env.cmd(cpu, ["-c", code]), env=env.env(), capture_output=True, text=True).stdout
    return out.strip() == "1"


def run_tflite(args, env: Env, texts: list[str], outdir: Path, mel_params, res: dict,
               quant_lsd: list[float] | None):
    """The same comparison on a bundle's TFLite variants (LiteRT + XNNPACK on both sides)."""
    import soundfile as sf

    from edgevc.runtime.bundle import Bundle

    b = Bundle.load(args.tflite_bundle)
    if not any(e.tflite for e in b.models.values()):
        raise SystemExit(f"--tflite-bundle {args.tflite_bundle}: no TFLite variants in it "
                         "(edgevc export --quantize int8 --format tflite -o DIR)")
    prof = compare_profile(args.cache, tflite=True)
    res["context"]["tflite_profile"] = prof.read_text()
    res["context"]["tflite_bundle"] = str(args.tflite_bundle)
    host_env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}

    def on_tflite(run):
        return all(v == "tflite" for v in (run["providers"] or {}).values())

    graph_in = outdir / "graph_inputs.npz"
    float_dir = args.cache / "float_bundle"
    if float_dir.is_dir() and (args.cache / "float_bundle.json").exists():
        import numpy as np

        sh([sys.executable, "-c", GRAPH_WORKER, str(graph_in), str(outdir / "graphs_float.npz"),
            str(float_dir)], env=host_env)
        ref = dict(np.load(outdir / "graphs_float.npz"))
        onnx_int8 = dict(np.load(outdir / "graphs_x86.npz"))
        acc = {"x86 onnx int8": graph_accuracy(onnx_int8, ref, mel_params)}
        sh([sys.executable, "-c", TFLITE_GRAPH_WORKER, str(graph_in),
            str(outdir / "tflite_graphs_x86.npz"), str(args.tflite_bundle)], env=host_env)
        acc["x86 tflite int8"] = graph_accuracy(
            dict(np.load(outdir / "tflite_graphs_x86.npz")), ref, mel_params)
        for cpu in args.cpus:
            env.set_cpu(cpu)
            log.info("aarch64 (%s), TFLite: graphs on identical inputs", cpu)
            sh(env.cmd(cpu, ["-c", TFLITE_GRAPH_WORKER, str(graph_in),
                             str(outdir / f"tflite_graphs_{cpu}.npz"), str(args.tflite_bundle)]),
               env=env.env())
            acc[f"{cpu} tflite int8"] = graph_accuracy(
                dict(np.load(outdir / f"tflite_graphs_{cpu}.npz")), ref, mel_params)
        res["tflite_graph_accuracy"] = acc

    x86 = []
    for i, t in enumerate(texts):
        wav = outdir / f"x86_tflite_{i}.wav"
        run = speak([sys.executable], host_env, t, prof, wav, args.tflite_bundle)
        x86.append((run, sf.read(wav, dtype="float32")[0]))
    for cpu in args.cpus:
        env.set_cpu(cpu)
        for i, t in enumerate(texts):
            log.info("aarch64 (%s), TFLite: sentence %d of %d", cpu, i + 1, len(texts))
            wav = outdir / f"{cpu}_tflite_{i}.wav"
            run = speak(env.cmd(cpu, []), env.env(), t, prof, wav, args.tflite_bundle)
            v = metrics(sf.read(wav, dtype="float32")[0], x86[i][1], mel_params)
            row = {"cpu": cpu, "sentence": i, "text": t, "qemu": run, "x86": x86[i][0],
                   "vs_x86": v}
            if not (on_tflite(run) and on_tflite(x86[i][0])):
                row["pass"], row["why"] = False, (
                    f"not all graphs on tflite: Arm {run['providers']}, "
                    f"x86 {x86[i][0]['providers']}")
            elif not v["same_length"]:
                row["pass"], row["why"] = False, "sample counts differ: durations changed"
            elif quant_lsd is not None and v["lsd_db"] >= quant_lsd[i]:
                row["pass"], row["why"] = False, (f"LSD vs x86 {v['lsd_db']:.2f} dB is not below "
                                                  f"int8's own {quant_lsd[i]:.2f} dB")
            else:
                row["pass"], row["why"] = True, "same length; difference below int8's own"
            res["tflite_sentences"].append(row)


def run_all(args) -> dict:
    import numpy as np
    import onnxruntime
    import soundfile as sf

    import edgevc
    from edgevc.runtime.bundle import Bundle

    cache = args.cache
    env = setup(cache)
    if args.setup_only:
        return {}
    profile = compare_profile(cache)
    outdir = cache / "out"
    outdir.mkdir(exist_ok=True)
    mel_params = Bundle.load().synth_mel
    texts = SENTENCES[: args.sentences]
    host_cmd = [sys.executable]
    host_env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}

    res = {"context": {
        "command": command("aarch64"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host_cpu": next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                          if ln.startswith("model name")), platform.machine()),
        "host_python": platform.python_version(), "host_onnxruntime": onnxruntime.__version__,
        "edgevc": edgevc.__version__,
        "qemu": subprocess.run([env.qemu, "--version"], capture_output=True,
                               text=True).stdout.splitlines()[0],
        "aarch64_python": env.wheels.get("python"), "aarch64_wheels": {
            k: v for k, v in env.wheels.items() if k != "python"},
        "debian_sysroot": json.loads((cache / "sysroot.done").read_text())["packages"],
        "profile": profile.read_text(), "sentences": texts, "cpus": args.cpus},
        "sentences": [], "graphs": {}, "tflite_sentences": []}

    log.info("x86: %d sentences", len(texts))
    x86 = []
    for i, t in enumerate(texts):
        run = speak(host_cmd, host_env, t, profile, outdir / f"x86_{i}.wav")
        x86.append((run, sf.read(outdir / f"x86_{i}.wav", dtype="float32")[0]))
    floats = float_references(cache, profile, texts)

    graph_in = outdir / "graph_inputs.npz"
    bundle_root = graph_inputs(graph_in, profile, texts[0])
    sh([sys.executable, "-c", GRAPH_WORKER, str(graph_in), str(outdir / "graphs_x86.npz"),
        bundle_root], env=host_env)
    ref_graphs = dict(np.load(outdir / "graphs_x86.npz"))

    for cpu in args.cpus:
        env.set_cpu(cpu)
        res["context"].setdefault("hwcap_dotprod", {})[cpu] = hwcap_dotprod(env, cpu)
        log.info("aarch64 (%s): graphs on identical inputs", cpu)
        sh(env.cmd(cpu, ["-c", GRAPH_WORKER, str(graph_in), str(outdir / f"graphs_{cpu}.npz"),
                         bundle_root]), env=env.env())
        res["graphs"][cpu] = graph_diffs(ref_graphs, dict(np.load(outdir / f"graphs_{cpu}.npz")))
        for i, t in enumerate(texts):
            log.info("aarch64 (%s): sentence %d of %d", cpu, i + 1, len(texts))
            wav = outdir / f"{cpu}_{i}.wav"
            run = speak(env.cmd(cpu, []), env.env(), t, profile, wav)
            y = sf.read(wav, dtype="float32")[0]
            row = {"cpu": cpu, "sentence": i, "text": t, "qemu": run, "x86": x86[i][0],
                   "vs_x86": metrics(y, x86[i][1], mel_params)}
            if floats is not None:
                row["arm_vs_float"] = metrics(y, floats[i], mel_params)
                row["x86_vs_float"] = metrics(x86[i][1], floats[i], mel_params)
            row["pass"], row["why"] = verdict(row)
            res["sentences"].append(row)
    if args.tflite_bundle:
        quant = ([r["x86_vs_float"]["lsd_db"] for r in res["sentences"][:len(texts)]]
                 if floats is not None else None)
        run_tflite(args, env, texts, outdir, mel_params, res, quant)
    res["all_pass"] = all(r["pass"] for r in res["sentences"])
    res["tflite_all_pass"] = all(r["pass"] for r in res["tflite_sentences"])
    return res


def verdict(row: dict) -> tuple[bool, str]:
    """Same length (the encoder, which sets durations, must agree exactly), and the Arm
    audio no further from the float model than the x86 audio is, within 10 %."""
    if not row["vs_x86"]["same_length"]:
        return False, "sample counts differ: durations changed"
    if "arm_vs_float" not in row:
        return True, "same length (no float reference to judge the size of the difference)"
    a, x = row["arm_vs_float"], row["x86_vs_float"]
    if a["lsd_db"] > PASS["lsd_vs_float_ratio"] * x["lsd_db"]:
        return False, f"LSD to float {a['lsd_db']:.2f} dB vs x86 {x['lsd_db']:.2f} dB"
    if a["logmel_mae"] > PASS["logmel_vs_float_ratio"] * x["logmel_mae"]:
        return False, f"log-mel MAE to float {a['logmel_mae']:.4f} vs x86 {x['logmel_mae']:.4f}"
    return True, "same length; as close to the float model as x86 (within 10 %)"


def summary(res: dict) -> list[str]:
    def count(rows, cpu):
        mine = [r for r in rows if r["cpu"] == cpu]
        return f"{sum(r['pass'] for r in mine)}/{len(mine)}"

    cpus = res["context"]["cpus"]
    out = ["**Summary.** onnxruntime int8 (the shipped path): "
           + ", ".join(f"{cpu} {count(res['sentences'], cpu)} sentences pass" for cpu in cpus)
           + "."]
    if res["tflite_sentences"]:
        out[0] += (" TFLite int8: " + ", ".join(
            f"{cpu} {count(res['tflite_sentences'], cpu)}" for cpu in cpus) + ".")
    est = res.get("estimate", {}).get("estimates")
    if est:
        out[0] += (" Estimated 1-core RTF (onnxruntime int8, from op counts, not measured on a "
                   "Pi): " + ", ".join(f"{k} {v['rtf_1_core']:.2f}" for k, v in est.items()) + ".")
    return out


def markdown(res: dict, estimate_md: str | None) -> str:
    c = res["context"]
    L = ["# edgevc on 64-bit Arm (qemu-user) vs x86", "",
         f"`{c['command']}`, {c['date']}.", "", *summary(res), "",
         "## What ran", "",
         f"- x86: {c['host_cpu']}, Python {c['host_python']}, onnxruntime "
         f"{c['host_onnxruntime']}, edgevc {c['edgevc']} (this source tree).",
         f"- aarch64: {c['qemu']}, `-cpu` "
         + ", ".join(f"{k} (SDOT/UDOT {'advertised' if v else 'absent'} in HWCAP)"
                     for k, v in c.get("hwcap_dotprod", {}).items())
         + f"; Debian arm64 Python "
         f"{c['aarch64_python']} unpacked from {len(c['debian_sysroot'])} Debian packages; "
         "wheels (aarch64, pinned to the host's versions): "
         + ", ".join(f"{k} {v}" for k, v in c["aarch64_wheels"].items()) + ".",
         "- Both sides: `python -m edgevc speak TEXT --profile aarch64-compare.toml --out X.wav "
         "--json` with the source tree on PYTHONPATH; the profile is raspberry-pi-4's with "
         "backends = onnx-cpu and threads = 1 (below).", "",
         "```toml", c["profile"].rstrip(), "```", "",
         "## Agreement, per sentence", "",
         "Arm vs x86 int8 audio, and each against the float model (float decoder + vocoder fed "
         "the same int8 encoder output, so durations match) as the yardstick of how much "
         "int8 rounding already moves the audio. LSD: log-spectral distance in dB, the bundle's "
         "own vocoder quantization metric; log-mel MAE in natural-log units.", "",
         "Tolerance, and why: the sample counts must be equal (the encoder, which sets the "
         "durations, must agree), and the Arm audio's LSD and log-mel MAE to the float model "
         "must be within 10 % of the x86 audio's. Bit-exact audio is not expected (see the "
         "next section), and SNR against x86 is a poor judge: the vocoder predicts phase, so "
         "a small mel change moves waveform samples a lot while the spectrum barely moves. "
         "What matters is that an Arm build is no further from the model it approximates "
         "than the x86 build the bundle was checked on.", "",
         "| core | # | samples (Arm = x86) | max abs diff | SNR vs x86 | LSD vs x86 | "
         "log-mel MAE vs x86 | LSD to float, Arm / x86 | log-mel MAE to float, Arm / x86 | pass |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["sentences"]:
        v = r["vs_x86"]
        fl = ("n/a", "n/a")
        if "arm_vs_float" in r:
            a, x = r["arm_vs_float"], r["x86_vs_float"]
            fl = (f"{a['lsd_db']:.2f} / {x['lsd_db']:.2f} dB",
                  f"{a['logmel_mae']:.4f} / {x['logmel_mae']:.4f}")
        L.append(f"| {r['cpu']} | {r['sentence'] + 1} | {v['samples']} "
                 f"({'=' if v['same_length'] else '!= ' + str(v['samples_ref'])}) | "
                 f"{v['max_abs']:.4f} | {v['snr_db']:.1f} dB | {v['lsd_db']:.2f} dB | "
                 f"{v['logmel_mae']:.4f} | {fl[0]} | {fl[1]} | "
                 f"{'yes' if r['pass'] else 'NO: ' + r['why']} |")
    L += ["", "Sentences: " + " / ".join(f"({i + 1}) {t}" for i, t in enumerate(c["sentences"])),
          "", "## Where the two differ: each graph on identical inputs", "",
          "Inputs taken from the x86 pipeline on the longest sentence of text 1 (the "
          "speaker encoder gets the log-mel of the x86 audio); outputs of the Arm run "
          "against the x86 run. Float kernels (depthwise convs, LayerNorm, GELU, the "
          "speaker FiLM Gemm) sum in a different order on the two ISAs and differ in the "
          "last bit; where such a value sits on an int8 rounding boundary, the next "
          "QuantizeLinear rounds it the other way, and the decoder's following layers "
          "spread that step.", "",
          "| core | output | shape | max abs diff | mean abs diff | max abs value | "
          "bit-identical share |",
          "|---|---|---|---|---|---|---|"]
    for cpu, g in res["graphs"].items():
        for k, v in g.items():
            L.append(f"| {cpu} | {k} | {'x'.join(map(str, v['shape']))} | {v['max_abs']:.3g} | "
                     f"{v['mean_abs']:.3g} | {v['max_ref']:.3g} | {100 * v['exact_share']:.1f} % |")
    L += ["", "## qemu wall time (NOT an estimate of Pi speed)", "",
          "An emulator translating Arm code on this x86 machine: these figures say nothing about "
          "a Pi; see the estimates below.", "",
          "| core | # | audio s | qemu wall s | qemu RTF (from --json) | x86 wall s | x86 RTF |",
          "|---|---|---|---|---|---|---|"]
    for r in res["sentences"]:
        L.append(f"| {r['cpu']} | {r['sentence'] + 1} | {r['qemu']['audio_s']:.2f} | "
                 f"{r['qemu']['wall_s']:.1f} | {r['qemu']['rtf']:.3f} | {r['x86']['wall_s']:.1f} | "
                 f"{r['x86']['rtf']:.3f} |")
    L += ["", "## TFLite (LiteRT + XNNPACK) on aarch64", ""]
    if res["tflite_sentences"]:
        L += [f"`--tflite-bundle {c['tflite_bundle']}` (built with `edgevc export --quantize "
              "int8 --format tflite -o DIR`): the same sentences with backends = "
              "[tflite, onnx-cpu] on both sides (every graph ran on tflite, checked from "
              "--json). Pass: same length, and the Arm-vs-x86 LSD below the ONNX int8-vs-float "
              "LSD of the same sentence. TFLite int8 here is dynamic-range quantization: "
              "activations are quantized on the fly, and on a core with SDOT (A76) XNNPACK "
              "runs KleidiAI's qp8 kernels, which do that differently from the kernels x86 "
              "and the A72 get, so a log-duration can round to another frame and shift the "
              "rest of the sentence. The per-graph table below says whether that costs "
              "accuracy or only sameness.", "",
              "| core | # | samples (Arm = x86) | max abs diff | SNR vs x86 | LSD vs x86 | "
              "log-mel MAE vs x86 | qemu wall s | pass |", "|---|---|---|---|---|---|---|---|---|"]
        for r in res["tflite_sentences"]:
            v = r["vs_x86"]
            L.append(f"| {r['cpu']} | {r['sentence'] + 1} | {v['samples']} "
                     f"({'=' if v['same_length'] else '!= ' + str(v['samples_ref'])}) | "
                     f"{v['max_abs']:.4f} | {v['snr_db']:.1f} dB | {v['lsd_db']:.2f} dB | "
                     f"{v['logmel_mae']:.4f} | {r['qemu']['wall_s']:.1f} | "
                     f"{'yes' if r['pass'] else 'NO: ' + r['why']} |")
        acc = res.get("tflite_graph_accuracy")
        if acc:
            keys = list(next(iter(acc.values())))
            L += ["", "Each graph on the identical inputs above, against the float ONNX graphs "
                  "(the export's own checks and limits: cosine >= 0.98, log-duration MAE <= "
                  "0.08, mel MAE <= 0.12, LSD <= 1.5 dB):", "",
                  "| run | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
            for run, v in acc.items():
                L.append(f"| {run} | " + " | ".join(f"{v[k]:.4f}" for k in keys) + " |")
    else:
        L.append("Not run: the shipped bundle has no TFLite variants. Build one with "
                 "`edgevc export --quantize int8 --format tflite -o DIR` and pass "
                 "`--tflite-bundle DIR`.")
    L.append("")
    if estimate_md:
        L += ["## Pi 4 / Pi 5 real-time factor, estimated from operation counts", "",
              "`python -m benchmarks.opcount` (run by this script):", "", estimate_md]
    return "\n".join(L).rstrip() + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                    / "edgevc" / "aarch64",
                    help="where the sysroot, wheels and WAVs go (default ~/.cache/edgevc/aarch64)")
    ap.add_argument("--cpus", nargs="+", default=["cortex-a72", "cortex-a76"],
                    choices=sorted(CPUINFO), help="qemu CPU models to run")
    ap.add_argument("--sentences", type=int, default=len(SENTENCES),
                    help=f"how many of the {len(SENTENCES)} fixed sentences to speak")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--tflite-bundle", type=Path,
                    help="also compare this bundle's TFLite variants (edgevc export "
                         "--quantize int8 --format tflite -o DIR)")
    ap.add_argument("--setup-only", action="store_true", help="build the environment and stop")
    ap.add_argument("--no-estimate", action="store_true", help="skip opcount.py's Pi estimates")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if not 1 <= args.sentences <= len(SENTENCES):
        ap.error(f"--sentences must be 1..{len(SENTENCES)}")
    if platform.machine() not in ("x86_64", "AMD64"):
        ap.error("run this on an x86-64 host: it compares emulated aarch64 with native x86")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args.cache = args.cache.resolve()
    if args.tflite_bundle:
        args.tflite_bundle = args.tflite_bundle.resolve()
    res = run_all(args)
    if args.setup_only:
        log.info("aarch64 environment ready in %s", args.cache)
        return
    estimate_md = None
    if not args.no_estimate:
        from benchmarks import opcount
        est = opcount.run(None, 3, {})
        res["estimate"] = est
        estimate_md = opcount.markdown(est)
    md = markdown(res, estimate_md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "aarch64.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "aarch64.md").write_text(md)
    log.info("wrote %s and %s", args.out / "aarch64.json", args.out / "aarch64.md")
    print(md, end="")
    if not res["all_pass"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
