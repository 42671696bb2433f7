"""ONNX Runtime's precision rewrites of an fp32 .onnx: fp16 (fp32 inputs/outputs kept) and int8
static QDQ quantization (per-channel weights, calibrated)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ofa_deploy.deploy.plugin import calibration_arrays
from ofa_deploy.fileio import atomic_path


def to_fp16(src: Path, dst: Path) -> Path:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    with atomic_path(dst) as tmp:
        onnx.save(model, str(tmp))
    return dst


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader protocol over our calibration arrays."""

    def __init__(self, arrays: list[np.ndarray]):
        self.it = iter([{"input": a} for a in arrays])

    def get_next(self):
        return next(self.it, None)


def to_int8(src: Path, dst: Path, calibration) -> Path:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    arrays = calibration_arrays(calibration)
    pre = dst.with_name(dst.stem + ".pre.onnx")
    try:
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        with atomic_path(dst) as tmp:
            quantize_static(str(pre), str(tmp), _Reader(arrays), quant_format=QuantFormat.QDQ, per_channel=True,
                            weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    finally:
        pre.unlink(missing_ok=True)
    return dst
