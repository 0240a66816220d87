"""Static int8 (QDQ, per-channel weights) and fp16 conversion of the bundle's graphs.

Only MatMul/Gemm/Conv are quantized: they hold nearly all the work; normalisations,
activations and the spectral head's exp/cos/sin stay in float.
"""

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

log = logging.getLogger(__name__)


class _Reader(CalibrationDataReader):
    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._it = iter(feeds)

    def get_next(self):
        return next(self._it, None)


def store_float_weights_as_fp16(model: onnx.ModelProto, min_elements: int = 4096) -> int:
    """Large float32 weights that stay float (layers kept out of int8) are stored as fp16
    and cast back to float32 by a Cast node. ONNX Runtime folds the Cast when it loads the
    graph, so the compute is unchanged float32 at a few 1e-4 relative weight error, and the
    file holds half the bytes. Returns the bytes saved."""
    from onnx import numpy_helper

    saved, kept = 0, []
    casts = []
    for init in model.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            kept.append(init)
            continue
        w = numpy_helper.to_array(init)
        if w.size < min_elements or not np.all(np.abs(w) < 6e4):  # fp16 range
            kept.append(init)
            continue
        half = numpy_helper.from_array(w.astype(np.float16), init.name + "_fp16")
        kept.append(half)
        casts.append(onnx.helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                           name=init.name + "_cast"))
        saved += w.nbytes // 2
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    for node in reversed(casts):  # casts first: the graph stays topologically sorted
        model.graph.node.insert(0, node)
    return saved


def quantize_int8(src: Path, dst: Path, calibration: list[dict[str, np.ndarray]],
                  exclude_nodes: list[str] = ()) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre), str(dst), _Reader(calibration),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm", "Conv"],
            nodes_to_exclude=list(exclude_nodes),
            calibrate_method=CalibrationMethod.MinMax,
            # 7-bit weights: x86 CPUs without VNNI (AVX2, e.g. this project's AMD EPYC build
            # machine) multiply u8 x s8 with VPMADDUBSW, whose int16 sums saturate at full
            # range; there the speaker encoder fell to cosine 0.979 against fp32 (0.9997
            # with reduce_range). VNNI and ARM dot-product kernels do not saturate.
            reduce_range=True,
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        )
    if exclude_nodes:  # the float-kept layers' weights: half the bytes on disk
        model = onnx.load(str(dst))
        saved = store_float_weights_as_fp16(model)
        if saved:
            onnx.save(model, str(dst))
            log.info("%s: float-kept weights stored as fp16 (%.2f MB saved)", dst.name, saved / 1e6)


def convert_fp16(src: Path, dst: Path) -> None:
    """fp16 weights and compute, float32 inputs/outputs (for GPU providers)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))
