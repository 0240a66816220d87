"""TFLite sessions: the same surface as the ONNX ones (run(feeds) -> list, input_names,
output_names, provider), on the LiteRT interpreter with its default XNNPACK delegate.

The bundle's graphs have dynamic time axes: an input whose shape differs from the last
run is resized and the tensors re-allocated; runs of the same shape (the synthesizer's
steady-state chunks) reuse the allocation. A first run that fails hands over to a
fallback session (the ONNX CPU one), once, with one warning naming the cause.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

import numpy as np

from edgevc.errors import EdgevcError
from edgevc.inference import InferenceSession

log = logging.getLogger(__name__)
PROVIDER = "tflite"


def load_interpreter_class():
    """The LiteRT Interpreter class; ai-edge-litert first, the older tflite-runtime next.
    Raises ImportError naming both when neither is installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter
        return Interpreter
    except ImportError:
        raise ImportError("no TFLite interpreter installed (pip install 'edgevc[tflite]', "
                          "or tflite-runtime)") from None


def _cause(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class TFLiteSession:
    """One .tflite graph on the LiteRT interpreter.

    `input_names`/`output_names` default to the graph's serving signature; pass the
    manifest's names to fix the output order (the runtime unpacks outputs by position).
    """

    provider = PROVIDER

    def __init__(self, path: str | os.PathLike, threads: int,
                 input_names: Sequence[str] | None = None,
                 output_names: Sequence[str] | None = None,
                 fallback: Callable[[], InferenceSession] | None = None,
                 content: bytes | None = None):
        """`content`: the graph's bytes (a bundle's, checked against its hash), run instead
        of reading `path` again; `path` then only names it."""
        Interpreter = load_interpreter_class()
        self._path = os.fspath(path)
        self._content = content  # the interpreter reads the model from this buffer: kept alive
        if content is not None:
            self._interp = Interpreter(model_content=content, num_threads=int(threads))
        else:
            self._interp = Interpreter(model_path=self._path, num_threads=int(threads))
        runner = self._interp.get_signature_runner()
        ins, outs = runner.get_input_details(), runner.get_output_details()
        self.input_names = list(input_names) if input_names else sorted(ins)
        self.output_names = list(output_names) if output_names else sorted(outs)
        missing = [n for n in self.input_names if n not in ins] + \
                  [n for n in self.output_names if n not in outs]
        if missing:
            raise EdgevcError(f"{self._path}: the TFLite graph has no tensor(s) {missing}; "
                              f"it has inputs {sorted(ins)} and outputs {sorted(outs)}")
        self._in = {n: (ins[n]["index"], ins[n]["dtype"]) for n in self.input_names}
        self._out = [outs[n]["index"] for n in self.output_names]
        self._shapes: dict[str, tuple] = {}
        self._fallback, self._ran = fallback, False
        self._delegate: InferenceSession | None = None

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self._delegate is not None:
            return self._delegate.run(feeds)
        if self._ran or self._fallback is None:
            self._ran = True
            return self._run(feeds)
        try:
            out = self._invoke(feeds)
        except Exception as e:
            log.warning("%s failed its first run on tflite (%s); using ONNX on the CPU",
                        self._path, _cause(e))
            self._delegate = self._fallback()
            self.provider = self._delegate.provider
            return self._delegate.run(feeds)
        self._ran, self._fallback = True, None  # no fall back from here: let its model go
        return out

    def _run(self, feeds):
        try:
            return self._invoke(feeds)
        except Exception as e:
            raise EdgevcError(f"inference failed in {self._path} on tflite: {_cause(e)}") from e

    def _invoke(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        arrays = {}
        resized = False
        for name, (index, dtype) in self._in.items():
            x = np.ascontiguousarray(feeds[name], dtype=dtype)
            if self._shapes.get(name) != x.shape:
                self._interp.resize_tensor_input(index, list(x.shape), strict=False)
                self._shapes[name] = x.shape
                resized = True
            arrays[index] = x
        if resized:
            self._interp.allocate_tensors()
        for index, x in arrays.items():
            self._interp.set_tensor(index, x)
        self._interp.invoke()
        # get_tensor copies: the next invoke may reuse the output buffers.
        return [self._interp.get_tensor(i) for i in self._out]
