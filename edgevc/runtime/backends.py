"""The one place inference sessions are made.

create_session() walks a profile's backend list, skips what this onnxruntime build does
not offer, falls back past providers that fail to load, always ends on the CPU, and logs
the provider it settled on. A session whose first run fails on an accelerator is rebuilt
on the CPU and re-run once; after that, errors are real errors.

Every session class offers the same surface: run(feeds) -> list of arrays, plus
.provider, .input_names and .output_names. A TFLite session (backend "tflite") will be
one more class with that surface, returned from _try_backend(); until then "tflite" is
skipped.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from edgevc.errors import EdgevcError, InputError

log = logging.getLogger(__name__)

BACKEND_PROVIDERS = {
    "onnx-tensorrt": "TensorrtExecutionProvider",
    "onnx-cuda": "CUDAExecutionProvider",
    "onnx-cpu": "CPUExecutionProvider",
}
CPU = "CPUExecutionProvider"

ModelSource = str | os.PathLike | bytes


class InferenceSession(Protocol):
    """What the synthesizer needs from any backend."""

    provider: str
    input_names: list[str]
    output_names: list[str]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


def _model_name(model: ModelSource) -> str:
    return "<in-memory model>" if isinstance(model, bytes) else str(model)


def _cause(e: BaseException) -> str:
    # onnxruntime errors can span many lines; the first names the cause.
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _trt_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "edgevc", "tensorrt")


def _provider_options(provider: str, fp16: bool) -> dict:
    if provider == "TensorrtExecutionProvider":
        # Building a TensorRT engine takes minutes on a Jetson; cache it across runs.
        cache = _trt_cache_dir()
        try:
            os.makedirs(cache, exist_ok=True)
        except OSError:
            return {"trt_fp16_enable": fp16}
        return {"trt_fp16_enable": fp16, "trt_engine_cache_enable": True,
                "trt_engine_cache_path": cache}
    return {}


def make_ort_session(model: ModelSource, providers: Sequence[str], threads: int, fp16: bool = False):
    """A bare onnxruntime.InferenceSession with our options; providers in priority order."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    src = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(src, sess_options=so,
                                providers=[(p, _provider_options(p, fp16)) for p in providers])


class Session:
    """An onnxruntime session with a one-time fall back to the CPU on a failing first run."""

    def __init__(self, model: ModelSource, providers: Sequence[str], threads: int, fp16: bool = False):
        # `providers` is the chain from the chosen one down to the CPU, so nodes the chosen
        # provider cannot take still have somewhere to run.
        self._model, self._threads, self._fp16 = model, threads, fp16
        self._sess = make_ort_session(model, providers, threads, fp16)
        self.provider: str = self._sess.get_providers()[0]
        self.input_names = [i.name for i in self._sess.get_inputs()]
        self.output_names = [o.name for o in self._sess.get_outputs()]
        self._ran = False

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self._ran or self.provider == CPU:
            self._ran = True
            return self._run(feeds)
        try:
            out = self._sess.run(None, feeds)
        except Exception as e:
            log.warning("%s failed its first run on %s (%s); rebuilding it on %s",
                        _model_name(self._model), self.provider, _cause(e), CPU)
            self._sess = make_ort_session(self._model, [CPU], self._threads)
            self.provider = CPU
            out = self._run(feeds)
        self._ran = True
        return out

    def _run(self, feeds):
        try:
            return self._sess.run(None, feeds)
        except Exception as e:
            raise EdgevcError(f"inference failed in {_model_name(self._model)} on "
                              f"{self.provider}: {_cause(e)}") from e


def provider_chain(backends: Sequence[str]) -> list[str]:
    """onnxruntime providers for `backends`, keeping only those this build offers, CPU last."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    chain: list[str] = []
    for b in backends:
        if b == "tflite":
            # TFLite sessions are not wired in yet; the next backend takes over.
            log.debug("backend tflite skipped: not supported by this runtime yet")
            continue
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


def create_session(model_path: ModelSource, backends: Sequence[str], threads: int,
                   *, fp16: bool = False) -> Session:
    """Create a session for `model_path` on the first backend that loads; CPU last.

    `fp16` lets TensorRT build fp16 engines (profiles with precision "fp16").
    """
    if not isinstance(model_path, bytes) and not Path(model_path).is_file():
        raise InputError(f"model file {model_path}: not found")
    chain = provider_chain(backends)
    name = _model_name(model_path)
    for i, provider in enumerate(chain):
        try:
            sess = Session(model_path, chain[i:], threads, fp16)
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
