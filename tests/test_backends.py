import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from edgevc.errors import InputError
from edgevc.runtime.backends import create_session, provider_chain
from edgevc.runtime.devices import tiny_model, usable_providers


@pytest.fixture
def double_model(tmp_path):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n"])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph([helper.make_node("Mul", ["X", "two"], ["Y"])], "double", [x], [y], [two])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "double.onnx"
    onnx.save(model, path)
    return path


X = np.array([1.0, -2.0, 3.5], np.float32)


def test_cpu_session_runs(double_model):
    s = create_session(double_model, ["onnx-cpu"], threads=1)
    assert s.provider == "CPUExecutionProvider"
    assert s.input_names == ["X"] and s.output_names == ["Y"]
    np.testing.assert_allclose(s.run({"X": X})[0], 2 * X)


def test_chain_skips_tflite_and_unavailable_and_ends_on_cpu(monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert provider_chain(["tflite", "onnx-tensorrt", "onnx-cuda"]) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert provider_chain(["onnx-cpu", "onnx-cuda"]) == ["CPUExecutionProvider"]  # CPU ends the walk
    assert provider_chain([]) == ["CPUExecutionProvider"]
    with pytest.raises(InputError, match="unknown backend 'onnx-npu'"):
        provider_chain(["onnx-npu"])


class _FakeSession:
    """Stands in for InferenceSession on a provider this machine does not have."""

    def __init__(self, provider, fail_run):
        self.provider, self.fail_run = provider, fail_run

    def get_providers(self):
        return [self.provider, "CPUExecutionProvider"]

    def get_inputs(self):
        return [type("I", (), {"name": "X"})()]

    def get_outputs(self):
        return [type("O", (), {"name": "Y"})()]

    def run(self, names, feeds):
        if self.fail_run:
            raise RuntimeError("CUDA error: no kernel image is available\nstack trace...")
        return [feeds["X"] * 2]


def _patch(monkeypatch, *, fail_create, fail_run=False):
    real = ort.InferenceSession
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])

    def fake(model, sess_options=None, providers=None, **kw):
        first = providers[0][0] if isinstance(providers[0], tuple) else providers[0]
        if first != "CPUExecutionProvider":
            if fail_create:
                raise RuntimeError("libcudnn.so.9: cannot open shared object file\nmore detail")
            return _FakeSession(first, fail_run)
        return real(model, sess_options=sess_options, providers=providers, **kw)

    monkeypatch.setattr(ort, "InferenceSession", fake)


def test_failing_provider_falls_back_to_cpu_with_one_warning(monkeypatch, caplog, double_model):
    _patch(monkeypatch, fail_create=True)
    with caplog.at_level(logging.DEBUG, logger="edgevc"):
        s = create_session(double_model, ["onnx-cuda", "onnx-cpu"], threads=1)
    assert s.provider == "CPUExecutionProvider"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "CUDAExecutionProvider" in warnings[0].getMessage()
    assert "libcudnn" in warnings[0].getMessage() and "more detail" not in warnings[0].getMessage()
    np.testing.assert_allclose(s.run({"X": X})[0], 2 * X)


def test_failing_first_run_rebuilds_on_cpu(monkeypatch, caplog, double_model):
    _patch(monkeypatch, fail_create=False, fail_run=True)
    s = create_session(double_model, ["onnx-cuda"], threads=1)
    assert s.provider == "CUDAExecutionProvider"
    with caplog.at_level(logging.WARNING, logger="edgevc"):
        out = s.run({"X": X})
    np.testing.assert_allclose(out[0], 2 * X)
    assert s.provider == "CPUExecutionProvider"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "first run" in warnings[0].getMessage()


def test_successful_gpu_run_stays_on_gpu(monkeypatch, double_model):
    _patch(monkeypatch, fail_create=False, fail_run=False)
    s = create_session(double_model, ["onnx-cuda"], threads=1)
    np.testing.assert_allclose(s.run({"X": X})[0], 2 * X)
    assert s.provider == "CUDAExecutionProvider"


def test_session_options(monkeypatch, double_model):
    seen = {}
    real = ort.InferenceSession

    def spy(model, sess_options=None, providers=None, **kw):
        seen["so"] = sess_options
        return real(model, sess_options=sess_options, providers=providers, **kw)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    monkeypatch.setattr("edgevc.runtime.profiles.os.cpu_count", lambda: 8)
    create_session(double_model, ["onnx-cpu"], threads=3)
    so = seen["so"]
    assert so.intra_op_num_threads == 3 and so.inter_op_num_threads == 1
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert so.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL


def test_threads_are_capped_at_the_cores_present(monkeypatch, double_model):
    seen = {}
    real = ort.InferenceSession

    def spy(model, sess_options=None, providers=None, **kw):
        seen["threads"] = sess_options.intra_op_num_threads
        return real(model, sess_options=sess_options, providers=providers, **kw)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    monkeypatch.setattr("edgevc.runtime.profiles.os.cpu_count", lambda: 2)
    create_session(double_model, ["onnx-cpu"], threads=1000)  # a Pi profile's 4 on 2 cores
    assert seen["threads"] == 2


def test_missing_model_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.onnx.*not found"):
        create_session(tmp_path / "nope.onnx", ["onnx-cpu"], 1)


def test_hand_encoded_probe_model_is_valid_onnx():
    m = onnx.load_from_string(tiny_model())
    onnx.checker.check_model(m, full_check=True)
    assert [n.op_type for n in m.graph.node] == ["Add"]


def test_usable_providers_reports_cpu_ok():
    rep = {r["name"]: r for r in usable_providers()}
    assert rep["CPUExecutionProvider"]["ok"] is True and rep["CPUExecutionProvider"]["error"] is None


def test_usable_providers_reports_failure(monkeypatch):
    _patch(monkeypatch, fail_create=True)
    rep = {r["name"]: r for r in usable_providers()}
    assert rep["CUDAExecutionProvider"]["ok"] is False
    assert "libcudnn" in rep["CUDAExecutionProvider"]["error"]
    assert rep["CPUExecutionProvider"]["ok"] is True


def test_memory_settings_take_effect_here():
    """The shared CPU arena and the single malloc arena are not silently skipped on the
    platform the memory figures are measured on (Linux, glibc, onnxruntime from PyPI)."""
    import platform

    import onnxruntime as ort

    from edgevc.runtime import backends
    from edgevc.runtime.memory import single_malloc_arena

    assert backends._use_shared_cpu_arena(ort)
    if platform.libc_ver()[0] == "glibc":
        assert single_malloc_arena()
