"""Device profiles: how to recognise a board and how to run on it.

A profile is a TOML file (read with the standard library's tomllib). Shipped profiles live
in the package `edgevc.firmware_configs` (the repo's firmware_configs/ folder):

    name = "raspberry-pi-4"                      # required
    description = "Raspberry Pi 4 Model B"       # optional
    [match]                                      # optional; every key given must fit
    device_tree_model = ["Raspberry Pi 4"]       # substrings of /proc/device-tree/model
    requires_cuda = false
    arch = ["aarch64"]                           # platform.machine() values
    [inference]
    backends = ["tflite", "onnx-cpu"]            # "onnx-tensorrt" | "onnx-cuda" | "onnx-cpu" | "tflite"
    precision = "int8"                           # int8 | fp16 | fp32
    threads = 4                                  # >= 1
    chunk_frames = 32                            # mel frames in the first chunk, >= 1
    max_chunk_frames = 64                        # optional; chunks double up to this, >= chunk_frames
    [buffer]
    ring_seconds = 2.0                           # > 0
    [memory]
    budget_mb = 150                              # >= 1: models loaded + ring buffer, in MB
    [audio]
    frames_per_buffer = 2048                     # >= 1
    device = ""                                  # output device name substring; "" = default
    [bundle]                                     # optional
    public_key = "64 hex digits"                 # refuse bundles not signed by this Ed25519 key

Unknown keys are refused too, so a typo does not silently fall back to a default.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevc.errors import EdgevcError, InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (JetPack 6): the same parser ships as tomli
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

log = logging.getLogger(__name__)

BACKENDS = ("onnx-tensorrt", "onnx-cuda", "onnx-cpu", "tflite")
PRECISIONS = ("int8", "fp16", "fp32")
FALLBACK_PROFILE = "generic-x86"
# Chunks after the first double up to this many frames (1 s of audio): each chunk recomputes
# its models' receptive radius of context (42 + 21 frames), which small chunks pay for
# several times over, and only the first chunk decides how soon audio starts. Larger caps
# buy little more speed and cost memory (benchmarks/results/speed.md, 2-core x86, 1 thread,
# caps 32 / 64 / 128: RTF 0.008 / 0.006 / 0.005; peak RSS of `edgevc speak` over 10,000
# words 89.7 / 91.0 / 93.9 MiB).
DEFAULT_MAX_CHUNK_FRAMES = 64
_NO_DEFAULT = object()
MAX_PROFILE_BYTES = 1 << 20


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    description: str
    match_device_tree_model: tuple[str, ...]
    match_requires_cuda: bool
    match_arch: tuple[str, ...]
    backends: tuple[str, ...]
    precision: str
    threads: int
    chunk_frames: int
    max_chunk_frames: int
    ring_seconds: float
    memory_budget_mb: int
    frames_per_buffer: int
    audio_device: str
    source: str  # the file it was read from
    bundle_public_key: str = ""  # hex Ed25519 key; when set, bundles must be signed by it

    def ring_samples(self, sample_rate: int) -> int:
        """Ring-buffer capacity in samples at `sample_rate`."""
        return max(1, int(round(self.ring_seconds * sample_rate)))


def _shipped_dir():
    """The folder (a Traversable) holding the shipped profiles."""
    try:
        from importlib.resources import files
        return files("edgevc.firmware_configs")
    except ModuleNotFoundError:
        # Running from a source checkout that is not installed: the folder sits at the top.
        return Path(__file__).resolve().parents[2] / "firmware_configs"


def list_profiles() -> list[str]:
    """Names of the shipped profiles, sorted."""
    return sorted(p.name[:-5] for p in _shipped_dir().iterdir()
                  if p.name.endswith(".toml") and p.is_file())


def load_profile(name_or_path: str | os.PathLike) -> DeviceProfile:
    """Load a shipped profile by name, or any profile TOML by path."""
    s = os.fspath(name_or_path)
    if s.endswith(".toml") or os.sep in s or "/" in s or Path(s).is_file():
        p = Path(s)
        if not p.exists():
            raise InputError(f"profile {p}: file not found")
        if not p.is_file():
            raise InputError(f"profile {p}: not a regular file")
        if p.stat().st_size > MAX_PROFILE_BYTES:
            raise InputError(f"profile {p}: {p.stat().st_size:,} bytes; a profile is a few "
                             f"hundred (at most {MAX_PROFILE_BYTES:,} are read)")
        return _parse(p.read_bytes(), str(p))
    known = list_profiles()
    if s not in known:
        raise InputError(f"unknown device profile '{s}'; known profiles: {', '.join(known)}")
    res = _shipped_dir() / f"{s}.toml"
    return _parse(res.read_bytes(), str(res))


def _read_model(model_path: str | os.PathLike) -> str:
    try:
        raw = Path(model_path).read_bytes()
    except OSError:
        return ""
    # The device-tree string is NUL-terminated.
    return raw.replace(b"\x00", b"").decode("utf-8", "replace").strip()


def _cuda_available() -> bool:
    try:
        import onnxruntime as ort
        return "CUDAExecutionProvider" in ort.get_available_providers()
    except Exception:  # a broken onnxruntime install is diagnosed elsewhere
        return False


def detect_profile(model_path: str | os.PathLike = "/proc/device-tree/model",
                   cuda_available: bool | None = None,
                   machine: str | None = None) -> DeviceProfile:
    """The shipped profile that fits this machine; generic-x86 when none does.

    Profiles that name a device-tree model are tried first (the longest matching
    substring wins, so a specific board beats a family); then profiles matching only on
    architecture. `cuda_available=None` asks onnxruntime for its CUDA provider.
    """
    model = _read_model(model_path)
    arch = (machine if machine is not None else platform.machine()).lower()
    profiles = [load_profile(n) for n in list_profiles()]

    def cuda_ok() -> bool:
        nonlocal cuda_available
        if cuda_available is None:
            cuda_available = _cuda_available()
        return cuda_available

    def fits_rest(p: DeviceProfile) -> bool:
        if p.match_arch and arch not in {a.lower() for a in p.match_arch}:
            return False
        return not p.match_requires_cuda or cuda_ok()

    best: tuple[int, DeviceProfile] | None = None
    if model:
        for p in profiles:
            hits = [len(s) for s in p.match_device_tree_model if s in model]
            if hits and fits_rest(p) and (best is None or max(hits) > best[0]):
                best = (max(hits), p)
    if best is not None:
        chosen = best[1]
    else:
        generic = [p for p in profiles if not p.match_device_tree_model and p.match_arch
                   and fits_rest(p)]
        chosen = generic[0] if generic else load_profile(FALLBACK_PROFILE)
    log.info("device profile: %s (model %r, arch %s)", chosen.name, model or "unknown", arch)
    return chosen


class _Table:
    """Typed access to one TOML table that records which keys were read."""

    def __init__(self, data: dict, prefix: str, where: str):
        self.data, self.prefix, self.where = data, prefix, where
        self.used: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, what: str, value: Any = _NO_DEFAULT) -> InputError:
        got = "" if value is _NO_DEFAULT else f", got {value!r}"
        return InputError(f"profile {self.where}: key '{self._key(key)}' {what}{got}")

    def get(self, key: str, default: Any = _NO_DEFAULT) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _NO_DEFAULT:
                raise self.fail(key, "is missing")
            return default
        return self.data[key]

    def string(self, key, default=_NO_DEFAULT, choices=None) -> str:
        v = self.get(key, default)
        if not isinstance(v, str):
            raise self.fail(key, "must be a string", v)
        if choices and v not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}", v)
        return v

    def boolean(self, key, default=_NO_DEFAULT) -> bool:
        v = self.get(key, default)
        if not isinstance(v, bool):
            raise self.fail(key, "must be true or false", v)
        return v

    def positive_int(self, key, default=_NO_DEFAULT) -> int:
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise self.fail(key, "must be a positive integer", v)
        return v

    def positive_float(self, key, default=_NO_DEFAULT) -> float:
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v < float("inf")):
            raise self.fail(key, "must be a positive number", v)
        return float(v)

    def strings(self, key, default=_NO_DEFAULT, choices=None, nonempty=False) -> tuple[str, ...]:
        v = self.get(key, default)
        if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
            raise self.fail(key, "must be a list of strings", v)
        if nonempty and not v:
            raise self.fail(key, "must not be empty")
        for s in v:
            if choices and s not in choices:
                raise self.fail(key, f"has unknown entry '{s}' (known: {', '.join(choices)})")
        return tuple(v)

    def table(self, key, required=True) -> _Table:
        v = self.get(key, _NO_DEFAULT if required else {})
        if not isinstance(v, dict):
            raise self.fail(key, "must be a table", v)
        return _Table(v, f"{self._key(key)}.", self.where)

    def check_unknown(self) -> None:
        for k in self.data:
            if k not in self.used:
                raise self.fail(k, "is not a known key")


# Upper bounds: a profile is trusted to tune the runtime, not to make it allocate
# without limit (issue 19: threads = 100000 took 12 GB, ring_seconds = 1e12 tried 57 PiB).
MAX_THREADS = 1024            # more than any board has; use is capped at the cores present
MAX_CHUNK_FRAMES = 4096       # a minute of audio; a sentence is capped there anyway
MAX_RING_SECONDS = 600.0
MAX_FRAMES_PER_BUFFER = 65536  # the same range as `speak --frames-per-buffer`
RING_BYTES_PER_SECOND = 16000 * 4  # float32 samples at the runtime's 16 kHz


def _check_bounds(p: DeviceProfile, inf: _Table, buf: _Table, audio: _Table) -> None:
    for table, key, value, top in ((inf, "threads", p.threads, MAX_THREADS),
                                   (inf, "chunk_frames", p.chunk_frames, MAX_CHUNK_FRAMES),
                                   (inf, "max_chunk_frames", p.max_chunk_frames, MAX_CHUNK_FRAMES),
                                   (buf, "ring_seconds", p.ring_seconds, MAX_RING_SECONDS),
                                   (audio, "frames_per_buffer", p.frames_per_buffer,
                                    MAX_FRAMES_PER_BUFFER)):
        if value > top:
            raise table.fail(key, f"must be at most {top:g}", value)
    ring_mb = p.ring_seconds * RING_BYTES_PER_SECOND / 2**20
    if ring_mb > p.memory_budget_mb:
        raise buf.fail("ring_seconds", f"needs {ring_mb:.0f} MB of buffer, more than "
                       f"memory.budget_mb ({p.memory_budget_mb})", p.ring_seconds)


def check_memory_budget(p: DeviceProfile, model_bytes: int, models: str) -> None:
    """memory.budget_mb against what the runtime holds as long as it runs: the graphs it
    loaded (`model_bytes`, their files' size: a session holds at least its weights) and the
    ring buffer. InputError, naming each part, when they do not fit. The interpreter and the
    libraries are outside the budget; per-chunk arrays are small beside these."""
    ring = p.ring_seconds * RING_BYTES_PER_SECOND
    need_mb = (model_bytes + ring) / 2**20
    if need_mb > p.memory_budget_mb:
        raise InputError(
            f"profile {p.source}: {models} ({model_bytes / 2**20:.1f} MB) and the ring buffer "
            f"({ring / 2**20:.1f} MB) need {need_mb:.1f} MB, more than memory.budget_mb "
            f"({p.memory_budget_mb}); raise the budget, shorten buffer.ring_seconds or use "
            "a smaller (int8) bundle")


def usable_threads(threads: int) -> int:
    """A profile's thread count, capped at the cores this machine has: more threads than
    cores only cost memory and time (a Pi profile's 4 on a 2-core host runs 2)."""
    cores = os.cpu_count() or 1
    if threads > cores:
        log.info("profile asks for %d threads; this machine has %d cores: using %d",
                 threads, cores, cores)
    return min(threads, cores)


def _parse(raw: bytes, where: str) -> DeviceProfile:
    if tomllib is None:
        raise EdgevcError("reading device profiles needs Python 3.11+ or: pip install tomli")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(f"profile {where}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except tomllib.TOMLDecodeError as e:
        # tomllib's message already ends with "(at line L, column C)".
        raise InputError(f"profile {where}: invalid TOML: {e}") from e
    top = _Table(data, "", where)
    match = top.table("match", required=False)
    inf = top.table("inference")
    buf = top.table("buffer")
    mem = top.table("memory")
    audio = top.table("audio")
    signing = top.table("bundle", required=False)
    profile = DeviceProfile(
        name=top.string("name"),
        description=top.string("description", ""),
        match_device_tree_model=match.strings("device_tree_model", []),
        match_requires_cuda=match.boolean("requires_cuda", False),
        match_arch=match.strings("arch", []),
        backends=inf.strings("backends", choices=BACKENDS, nonempty=True),
        precision=inf.string("precision", choices=PRECISIONS),
        threads=inf.positive_int("threads"),
        chunk_frames=inf.positive_int("chunk_frames"),
        max_chunk_frames=inf.positive_int("max_chunk_frames", DEFAULT_MAX_CHUNK_FRAMES),
        ring_seconds=buf.positive_float("ring_seconds"),
        memory_budget_mb=mem.positive_int("budget_mb"),
        frames_per_buffer=audio.positive_int("frames_per_buffer"),
        audio_device=audio.string("device", ""),
        source=where,
        bundle_public_key=signing.string("public_key", ""),
    )
    key = profile.bundle_public_key
    if key and (len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key)):
        raise signing.fail("public_key", "must be 64 hex digits (an Ed25519 public key)", key)
    _check_bounds(profile, inf, buf, audio)
    if profile.max_chunk_frames < profile.chunk_frames:
        raise inf.fail("max_chunk_frames", f"must be >= chunk_frames ({profile.chunk_frames})",
                       profile.max_chunk_frames)
    if not profile.name.strip():
        raise top.fail("name", "must not be empty")
    for t in (top, match, inf, buf, mem, audio, signing):
        t.check_unknown()
    return profile
