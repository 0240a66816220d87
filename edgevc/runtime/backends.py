"""The one place inference sessions are made.

create_session() walks a profile's backend list, skips what this onnxruntime build does
not offer, falls back past providers that fail to load, always ends on the CPU, and logs
the provider it settled on. A session whose first run fails on an accelerator is rebuilt
on the CPU and re-run once; after that, errors are real errors.

Every session class offers the same surface: run(feeds) -> list of arrays, plus
.provider, .input_names and .output_names. Backend "tflite" runs the bundle's .tflite
variant of a graph on the LiteRT interpreter (tflite_backend.py) at its place in the
profile's order; without such a file or an interpreter, it is skipped with one warning
per cause, and a TFLite session whose first run fails is rebuilt on the ONNX CPU path.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgevc.errors import EdgevcError, InputError
from edgevc.inference import InferenceSession
from edgevc.runtime.profiles import usable_threads

log = logging.getLogger(__name__)

BACKEND_PROVIDERS = {
    "onnx-tensorrt": "TensorrtExecutionProvider",
    "onnx-cuda": "CUDAExecutionProvider",
    "onnx-cpu": "CPUExecutionProvider",
}
CPU = "CPUExecutionProvider"

ModelSource = str | os.PathLike | bytes


def _model_name(model: ModelSource) -> str:
    return "<in-memory model>" if isinstance(model, bytes) else str(model)


def _cause(e: BaseException) -> str:
    # onnxruntime errors can span many lines; the first names the cause.
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _trt_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "edgevc", "tensorrt")


def private_dir(path: str) -> bool:
    """Make `path` (mode 0700) if needed; True only when it and its parent are real folders
    owned by this user that nobody else may write to. TensorRT loads and runs the engines
    it finds in its cache unchecked, so a cache others could plant files in is not used."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        for d in (path, os.path.dirname(path)):
            st = os.lstat(d)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
                log.warning("not using the TensorRT engine cache %s: %s is not a folder only "
                            "this user can write to", path, d)
                return False
    except OSError as e:
        log.warning("not using the TensorRT engine cache %s: %s", path, e.strerror)
        return False
    return True


def _provider_options(provider: str, fp16: bool) -> dict:
    if provider == "TensorrtExecutionProvider":
        # Building a TensorRT engine takes minutes on a Jetson; cache it across runs.
        cache = _trt_cache_dir()
        if not private_dir(cache):
            return {"trt_fp16_enable": fp16}
        return {"trt_fp16_enable": fp16, "trt_engine_cache_enable": True,
                "trt_engine_cache_path": cache}
    return {}


_shared_cpu_arena: bool | None = None  # registered yet? None: not tried


def _use_shared_cpu_arena(ort) -> bool:
    """One CPU arena for every session of the process, grown by what is asked
    (kSameAsRequested) instead of in doubling steps. Each session's own arena grows to that
    session's peak and never shrinks, so four graphs held the sum of four peaks; a shared
    one holds the largest."""
    global _shared_cpu_arena
    if _shared_cpu_arena is None:
        try:
            info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                     ort.OrtMemType.DEFAULT)
            ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, 1, -1, -1))
            _shared_cpu_arena = True
        except Exception as e:  # an onnxruntime build without it: per-session arenas
            log.debug("shared CPU arena unavailable: %s", _cause(e))
            _shared_cpu_arena = False
    return _shared_cpu_arena


def make_ort_session(model: ModelSource, providers: Sequence[str], threads: int, fp16: bool = False,
                     cpu_fallback: bool = True):
    """A bare onnxruntime.InferenceSession with our options; providers in priority order.
    cpu_fallback=False fails instead of running on the CPU what the providers cannot."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    if not cpu_fallback:
        so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    if _use_shared_cpu_arena(ort):
        so.add_session_config_entry("session.use_env_allocators", "1")
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Memory patterns are planned per input shape and kept; every sentence and chunk length
    # is a new shape, so they pile up with the text (measured growth from 10 to 10,000
    # words: 4.8 MiB with them, 3.1 MiB without).
    so.enable_mem_pattern = False
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    src = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(src, sess_options=so,
                                providers=[(p, _provider_options(p, fp16)) for p in providers])


class Session:
    """An onnxruntime session with a one-time fall back to the CPU on a failing first run."""

    def __init__(self, model: ModelSource, providers: Sequence[str], threads: int,
                 fp16: bool = False, name: str | None = None):
        # `providers` is the chain from the chosen one down to the CPU, so nodes the chosen
        # provider cannot take still have somewhere to run.
        self._name = name or _model_name(model)
        self._threads, self._fp16 = threads, fp16
        self._sess = make_ort_session(model, providers, threads, fp16)
        self.provider: str = self._sess.get_providers()[0]
        self.input_names = [i.name for i in self._sess.get_inputs()]
        self.output_names = [o.name for o in self._sess.get_outputs()]
        self._ran = self.provider == CPU  # nothing to fall back to
        # kept (the same bytes, not the path again) only while a rebuild on the CPU may come
        self._model: ModelSource | None = None if self._ran else model

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self._ran or self._model is None:
            self._ran = True
            return self._run(feeds)
        try:
            out = self._sess.run(None, feeds)
        except Exception as e:
            log.warning("%s failed its first run on %s (%s); rebuilding it on %s",
                        self._name, self.provider, _cause(e), CPU)
            self._sess = make_ort_session(self._model, [CPU], self._threads)
            self.provider = CPU
            out = self._run(feeds)
        self._ran, self._model = True, None
        return out

    def _run(self, feeds):
        try:
            return self._sess.run(None, feeds)
        except Exception as e:
            raise EdgevcError(f"inference failed in {self._name} on "
                              f"{self.provider}: {_cause(e)}") from e


def provider_chain(backends: Sequence[str]) -> list[str]:
    """onnxruntime providers for `backends`, keeping only those this build offers, CPU last."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    chain: list[str] = []
    for b in backends:
        if b == "tflite":
            continue  # not an onnxruntime provider: create_session() places it
        if b not in BACKEND_PROVIDERS:
            raise InputError(f"unknown backend '{b}'; known: {', '.join([*BACKEND_PROVIDERS, 'tflite'])}")
        p = BACKEND_PROVIDERS[b]
        if p not in available:
            log.debug("backend %s skipped: onnxruntime has no %s", b, p)
            continue
        if p == CPU:
            break  # the CPU always loads, so nothing after it would ever be tried
        if p not in chain:
            chain.append(p)
    chain.append(CPU)
    return chain


_warned_tflite: set[str] = set()  # causes already warned about: one warning each


def _skip_tflite(name: str, cause: str, key: str, nxt: str) -> None:
    level = logging.DEBUG if key in _warned_tflite else logging.WARNING
    _warned_tflite.add(key)
    log.log(level, "%s: backend tflite skipped (%s); trying %s", name, cause, nxt)


def _tflite_session(model_path: ModelSource, tflite, threads: int, nxt: str, name: str):
    """A TFLiteSession for `tflite` (a bundle.TFLiteModel), or None with why logged."""
    if tflite is None:
        # Not a failure: a bundle without TFLite (the shipped one) simply runs ONNX. Say it
        # at info level so a Pi profile does not warn on every run.
        if "no-file" not in _warned_tflite:
            _warned_tflite.add("no-file")
            log.info("%s: the bundle has no .tflite variant (`edgevc export --format tflite` "
                     "adds one); running %s", name, nxt)
        return None
    from edgevc.runtime import tflite_backend

    try:
        tflite_backend.load_interpreter_class()
    except ImportError as e:
        _skip_tflite(name, str(e), "no-interpreter", nxt)
        return None
    content = tflite.read()  # checked against its sha256; the interpreter runs these bytes
    try:
        sess = tflite_backend.TFLiteSession(
            tflite.path, threads, tflite.input_names or None, tflite.output_names or None,
            fallback=lambda: Session(model_path, [CPU], threads, name=name), content=content)
    except Exception as e:
        log.warning("%s: tflite unusable (%s); trying %s", tflite.path, _cause(e), nxt)
        return None
    log.info("%s: running on tflite (%s, XNNPACK) with %d thread(s)", tflite.path,
             tflite.precision, threads)
    return sess


def create_session(model_path: ModelSource, backends: Sequence[str], threads: int,
                   *, fp16: bool = False, tflite=None, name: str | None = None
                   ) -> InferenceSession:
    """Create a session for `model_path` on the first backend that loads; CPU last.

    `model_path` is a file, or the model's bytes (a bundle's ModelEntry.read(): the bytes
    its hash was checked on); `name` names it in messages. `fp16` lets TensorRT build fp16
    engines (profiles with precision "fp16"). `tflite` (a bundle.TFLiteModel, from
    ModelEntry.tflite_model()) is what backend "tflite" runs.
    """
    if not isinstance(model_path, bytes) and not Path(model_path).is_file():
        raise InputError(f"model file {model_path}: not found")
    threads = usable_threads(threads)
    chain = provider_chain(backends)
    name = name or _model_name(model_path)
    # TFLite's place in the chain: after the accelerators the profile lists before it.
    k = None
    if "tflite" in backends:
        before = {BACKEND_PROVIDERS.get(b) for b in backends[:list(backends).index("tflite")]}
        k = sum(1 for p in chain if p != CPU and p in before)
    for i, provider in enumerate(chain):
        if i == k:
            sess = _tflite_session(model_path, tflite, threads, provider, name)
            if sess is not None:
                return sess
        try:
            sess = Session(model_path, chain[i:], threads, fp16, name=name)
        except Exception as e:
            if provider == CPU:
                raise EdgevcError(f"cannot load model {name}: {_cause(e)}") from e
            log.warning("%s: %s unusable (%s); trying %s", name, provider, _cause(e), chain[i + 1])
            continue
        if sess.provider != provider:
            # onnxruntime may drop a provider whose libraries fail to load without raising.
            log.warning("%s: %s requested but onnxruntime chose %s", name, provider, sess.provider)
        log.info("%s: running on %s with %d thread(s)", name, sess.provider, threads)
        return sess
    raise AssertionError("unreachable: the provider chain always ends with the CPU")
