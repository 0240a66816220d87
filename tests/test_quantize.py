"""Quantization helpers on a hand-made graph (no torch needed)."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgevc.quantize.int8 import store_float_weights_as_fp16  # noqa: E402


def _matmul_model(w: np.ndarray, small: np.ndarray):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, w.shape[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, w.shape[1]])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])]
    graph = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(w, "w"),
                                                     numpy_helper.from_array(small, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_large_float_weights_stored_as_fp16_run_the_same(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, (128, 256)).astype(np.float32)
    b = rng.normal(0, 0.1, 256).astype(np.float32)  # below the size threshold: stays float32
    model = _matmul_model(w, b)
    onnx.save(model, tmp_path / "f32.onnx")
    saved = store_float_weights_as_fp16(model)
    onnx.checker.check_model(model)
    onnx.save(model, tmp_path / "f16.onnx")
    assert saved == w.nbytes // 2
    assert (tmp_path / "f16.onnx").stat().st_size < 0.6 * (tmp_path / "f32.onnx").stat().st_size
    dtypes = {i.name: i.data_type for i in model.graph.initializer}
    assert dtypes == {"w_fp16": TensorProto.FLOAT16, "b": TensorProto.FLOAT}
    x = rng.normal(size=(4, 128)).astype(np.float32)
    run = lambda p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]  # noqa: E731
    ref, half = run(tmp_path / "f32.onnx"), run(tmp_path / "f16.onnx")
    np.testing.assert_allclose(half, x @ w.astype(np.float16).astype(np.float32) + b, rtol=1e-5, atol=1e-5)
    assert np.abs(half - ref).max() < 1e-2 * np.abs(ref).max()
