import ast
import contextlib
import functools
import importlib.util
import inspect
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edgevc.runtime.bundle import default_bundle_dir


def run_cli(*args, input=None, env=None, timeout=300):
    """Run `python -m edgevc ARGS` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "edgevc", *map(str, args)], input=input,
                          capture_output=True, timeout=timeout, env=env)


def build_tiny_training_cache(root: Path, texts, seconds, f0_step: float):
    """A toolchain feature cache at root/cache.npz of transcribed stand-in utterances (two
    voices, ann at 210 Hz and bob at 110 Hz, the k-th sentence raised by k * f0_step, one
    length per sentence) and root/durations.npz, aligner-like durations (each utterance's
    frames split evenly over its phonemes). Returns both paths."""
    import soundfile as sf

    from edgevc.export.heldout import HeldOut
    from edgevc.export.prepare import FeatureCache, build_cache

    sr, rng = 16000, np.random.default_rng(0)
    for spk, f0 in (("ann", 210), ("bob", 110)):
        (root / "text" / spk).mkdir(parents=True)
        for k, (text, secs) in enumerate(zip(texts, seconds)):
            t = np.arange(int(secs * sr)) / sr
            wav = 0.3 * np.sin(2 * np.pi * f0 * (1 + f0_step * k) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
            sf.write(root / "text" / spk / f"u{k}.wav", (wav + 0.01 * rng.normal(size=len(t))).astype(np.float32), sr)
            (root / "text" / spk / f"u{k}.txt").write_text(text)
    cache_path = root / "cache.npz"
    build_cache([root / "text"], [], str(cache_path), with_teacher=False, heldout=HeldOut())
    cache = FeatureCache(str(cache_path))
    durs = []
    for i in range(len(cache)):
        n, m = len(cache.ids(i)), len(cache.mel(i))
        durs.append(np.diff(np.linspace(0, m, n + 1).round()).astype(np.int64))
    off = np.cumsum([0] + [len(d) for d in durs])
    np.savez(root / "durations.npz", utt=cache.utt, dur=np.concatenate(durs), dur_off=off)
    return cache_path, root / "durations.npz"


def tiny_acoustic_args(root: Path, steps: int = 10, save_every: int = 10) -> list[str]:
    """train_acoustic's options for a few steps of a tiny model on a build_tiny_training_cache
    of two sentences at root/data (everything but --run)."""
    cache, durs = build_tiny_training_cache(root / "data", ("Hello there.", "Good morning to you."),
                                            (1.2, 2.0), f0_step=0.1)
    return ["--cache", str(cache), "--durations", str(durs), "--steps", str(steps),
            "--save-every", str(save_every), "--dim", "32", "--film-rank", "8", "--max-frames", "400",
            "--val-share", "0", "--threads", "1"]


def save_tiny_chain(d: Path) -> None:
    """Small random vocoder, speaker encoder and default speaker into checkpoints folder `d`
    (the acoustic model is the caller's)."""
    import torch

    from edgevc.export.checkpoint_io import save_model
    from edgevc.export.models.speaker_encoder import SpeakerEncoder
    from edgevc.export.models.vocoder import Vocoder
    torch.manual_seed(0)
    save_model(d / "vocoder.pt", Vocoder(dim=32, hidden=64, layers=2), 5)
    save_model(d / "speaker_encoder.pt", SpeakerEncoder(dim=32, hidden=64, pooling="attentive"), 5)
    v = np.random.default_rng(0).normal(size=256).astype(np.float32)
    np.save(d / "default_speaker.npy", v / np.linalg.norm(v))


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory) -> Path:
    """A checkpoints folder of small random models that `build_bundle` exports in seconds."""
    import torch

    from edgevc.export.checkpoint_io import save_model
    from edgevc.export.models.acoustic import AcousticModel
    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    save_model(d / "acoustic.pt", AcousticModel(dim=32, hidden=64, variance=True, film_rank=8), 5)
    save_tiny_chain(d)
    return d


@pytest.fixture(scope="session")
def bundle_copy(tmp_path_factory) -> Path:
    """A private copy of the shipped bundle that tests may tamper with."""
    dst = tmp_path_factory.mktemp("bundle") / "b"
    shutil.copytree(default_bundle_dir(), dst)
    return dst


@pytest.fixture
def speech_like(tmp_path) -> Path:
    """A 3 s voiced, formant-rich WAV (a synthetic vowel sequence) at 22.05 kHz stereo."""
    import soundfile as sf
    sr = 22050
    t = np.arange(int(3 * sr)) / sr
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    wav = sum(np.sin(k * phase) / k for k in range(1, 30)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    wav = 0.3 * wav / np.abs(wav).max()
    path = tmp_path / "voice.wav"
    sf.write(path, np.stack([wav, wav], axis=1), sr)
    return path


# ------------------------------------------------- runtime tests and toolchain tests
# A test is a toolchain test when it, its module or a fixture it uses imports torch, onnx
# or the toolchain (edgevc.export, edgevc.quantize), or a benchmark module that does at its
# top (benchmarks.quality imports the judges), or runs `edgevc export`; it gets the
# `toolchain` marker, so `-m toolchain` and `-m "not toolchain"` run either half alone.
# Where torch is not installed (a device install), modules that import the toolchain at
# their top are not collected at all.

TOOLCHAIN_MODULES = ("torch", "onnx", "onnxscript", "edgevc.export", "edgevc.quantize")


def _names_toolchain(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "run_cli" and node.args
              and isinstance(node.args[0], ast.Constant) and node.args[0].value == "export"):
            return True
        else:
            continue
        if any(n == m or n.startswith(m + ".") for n in names for m in TOOLCHAIN_MODULES):
            return True
        if any(_benchmark_imports_toolchain(n) for n in names):
            return True
    return False


def _benchmark_imports_toolchain(name: str) -> bool:
    """A benchmark module (benchmarks.NAME) whose top-level imports reach the toolchain:
    importing it is using the toolchain."""
    parts = name.split(".")
    if parts[0] != "benchmarks" or len(parts) < 2:
        return False
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{parts[1]}.py"
    return path.is_file() and _module_imports_toolchain(str(path))


@functools.cache
def _module_imports_toolchain(path: str) -> bool:
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    top = ast.Module(body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))],
                     type_ignores=[])
    return _names_toolchain(top)


@functools.cache
def _function_uses_toolchain(func) -> bool:
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return False
    return _names_toolchain(ast.parse(source))


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        if importlib.util.find_spec("torch") is None and _module_imports_toolchain(str(collection_path)):
            return True
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        func = getattr(item, "function", None)
        fixtures = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if (_module_imports_toolchain(str(item.path))
                or (func is not None and _function_uses_toolchain(func))
                or any(_function_uses_toolchain(d.func) for defs in fixtures.values() for d in defs)):
            item.add_marker(pytest.mark.toolchain)


@contextlib.contextmanager
def serve_process(args, env, graceful_stop: bool = False):
    """`edgevc serve ARGS` in a child process: yields (process, {kind: address}) once it has
    logged both its Wyoming and HTTP addresses. graceful_stop: SIGTERM first, as a service
    manager stops it; otherwise it is killed."""
    p = subprocess.Popen([sys.executable, "-m", "edgevc", "serve", *args], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    from benchmarks.serve import serve_addresses

    try:
        yield p, serve_addresses(p)
    finally:
        if p.poll() is None and graceful_stop:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                pass
        if p.poll() is None:
            p.kill()
        p.wait()
