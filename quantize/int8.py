"""Static int8 (QDQ, per-channel weights) and fp16 conversion of the bundle's graphs.

Only MatMul/Gemm/Conv are quantized: they hold nearly all the work; normalisations,
activations and the spectral head's exp/cos/sin stay in float.
"""

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

log = logging.getLogger(__name__)


class _Reader(CalibrationDataReader):
    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._it = iter(feeds)

    def get_next(self):
        return next(self._it, None)


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
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        )


def convert_fp16(src: Path, dst: Path) -> None:
    """fp16 weights and compute, float32 inputs/outputs (for GPU providers)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))
