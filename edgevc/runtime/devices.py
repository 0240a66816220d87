"""What this machine offers: audio outputs (PyAudio) and inference providers that work.

Backs `edgevc devices`. Each provider is proven by building and running a tiny model,
because onnxruntime lists providers whose libraries may still fail to load.
"""

from __future__ import annotations

import logging

import numpy as np

from edgevc.errors import InputError

log = logging.getLogger(__name__)

PYAUDIO_MISSING = "PyAudio is not installed: pip install 'edgevc[device]'"


def audio_outputs() -> tuple[list[dict], str | None]:
    """(outputs, reason). Each output: index, name, max_output_channels,
    default_sample_rate, is_default. When PyAudio is missing or fails: ([], reason)."""
    try:
        import pyaudio  # noqa: F401 - only whether it imports (PortAudio present)
    except ImportError:
        return [], PYAUDIO_MISSING
    from edgevc.playback.portaudio import start_portaudio

    try:
        pa = start_portaudio()
    except Exception as e:
        return [], f"PortAudio failed to start: {e}"
    try:
        try:
            default = pa.get_default_output_device_info()["index"]
        except Exception:  # no default output (headless box)
            default = None
        outs = []
        for i in range(pa.get_device_count()):
            info = pa.get_device_info_by_index(i)
            if int(info.get("maxOutputChannels", 0)) < 1:
                continue
            outs.append({
                "index": int(info["index"]),
                "name": str(info["name"]),
                "max_output_channels": int(info["maxOutputChannels"]),
                "default_sample_rate": float(info["defaultSampleRate"]),
                "is_default": int(info["index"]) == default,
            })
        return outs, None
    finally:
        pa.terminate()


def output_device_index(name: str) -> int | None:
    """The index of the first output whose name contains `name` (case-insensitive);
    None for "" (the default device). InputError if nothing matches."""
    if not name:
        return None
    outs, reason = audio_outputs()
    if reason:
        raise InputError(f"audio device '{name}': {reason}")
    for o in outs:
        if name.lower() in o["name"].lower():
            return o["index"]
    names = ", ".join(o["name"] for o in outs) or "none"
    raise InputError(f"audio device '{name}': no output device matches; outputs: {names}")


# -- a tiny ONNX model, encoded by hand so the runtime does not need the onnx package ----

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)  # wire type 0: varint
    data = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(data)) + data  # wire type 2: bytes


def _float_tensor_info(name: str) -> bytes:
    # ValueInfoProto{name, type: TypeProto{tensor_type{elem_type: FLOAT, shape{dim{dim_param:"n"}}}}}
    shape = _field(1, _field(2, "n"))
    tensor = _field(1, 1) + _field(2, shape)
    return _field(1, name) + _field(2, _field(1, tensor))


def tiny_model() -> bytes:
    """ONNX bytes for Y = X + X over a float vector of any length (opset 13)."""
    node = _field(1, "X") + _field(1, "X") + _field(2, "Y") + _field(3, "add") + _field(4, "Add")
    graph = (_field(1, node) + _field(2, "edgevc-probe")
             + _field(11, _float_tensor_info("X")) + _field(12, _float_tensor_info("Y")))
    opset = _field(1, "") + _field(2, 13)
    return _field(1, 8) + _field(2, "edgevc") + _field(7, graph) + _field(8, opset)


def tflite_interpreter() -> dict:
    """{ok, name, error}: whether the TFLite backend has an interpreter here."""
    from edgevc.runtime import tflite_backend

    try:
        cls = tflite_backend.load_interpreter_class()
    except ImportError as e:
        return {"name": "tflite", "ok": False, "error": str(e)}
    return {"name": "tflite", "ok": True, "error": None, "interpreter": cls.__module__}


def usable_providers() -> list[dict]:
    """For each provider onnxruntime lists: {name, ok, error} from a real session and run."""
    import onnxruntime as ort

    from edgevc.runtime.backends import make_ort_session

    model = tiny_model()
    x = np.arange(4, dtype=np.float32)
    report = []
    for name in ort.get_available_providers():
        try:
            # Without CPU fallback: a provider that runs nothing itself (Azure, which only
            # forwards to a cloud endpoint) must not pass on the CPU's work.
            sess = make_ort_session(model, [name], threads=1, cpu_fallback=name == "CPUExecutionProvider")
            (y,) = sess.run(None, {"X": x})
            used = sess.get_providers()[0]
            if used != name:
                raise RuntimeError(f"onnxruntime fell back to {used}")
            if not np.allclose(y, 2 * x):
                raise RuntimeError(f"wrong result {y.tolist()}")
            report.append({"name": name, "ok": True, "error": None})
        except Exception as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if "fallback to CPU EP has been explicitly disabled" in msg:
                msg = "runs none of the model's operators itself (they would fall back to the CPU)"
            report.append({"name": name, "ok": False, "error": msg})
    return report

