"""fp32 .tflite → fp16 or int8 through ai-edge-quantizer recipes.

fp16: weight-only float casting of conv / depthwise / fully-connected weights (activations stay
float32; the runtime dequantizes, or runs fp16 on GPUs that can).
int8: full-integer static quantization (`static_wi8_ai8`: per-channel int8 weights, int8
activations calibrated on the given batches); input and output become int8, so `run`
quantizes inputs and dequantizes outputs with the tensors' own scale and zero point."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ofa_deploy.deploy.plugin import calibration_arrays
from ofa_deploy.fileio import atomic_write_bytes

SIGNATURE = "serving_default"   # the one signature litert-torch writes
_WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def to_fp16(src: Path, dst: Path) -> Path:
    """Cast the weights of every conv / depthwise / FC op to float16."""
    from ai_edge_quantizer import quantizer, qtyping

    q = quantizer.Quantizer(str(src))
    config = qtyping.OpQuantizationConfig(
        weight_tensor_config=qtyping.TensorQuantizationConfig(num_bits=16, dtype=qtyping.TensorDataType.FLOAT),
        compute_precision=qtyping.ComputePrecision.FLOAT, explicit_dequantize=True)
    for op in _WEIGHT_OPS:
        q.update_quantization_recipe(regex=".*", operation_name=getattr(qtyping.TFLOperationName, op),
                                     op_config=config, algorithm_key=quantizer.AlgorithmName.FLOAT_CASTING)
    return atomic_write_bytes(dst, bytes(q.quantize(enable_progress_report=False).quantized_model))


def to_int8(src: Path, dst: Path, calibration) -> Path:
    """Full-integer int8 (per-channel weights), activation ranges calibrated on `calibration`."""
    from ai_edge_quantizer import quantizer, recipe

    q = quantizer.Quantizer(str(src), recipe.static_wi8_ai8())
    input_name = _input_name(src)
    samples = [{input_name: x} for x in calibration_arrays(calibration)]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        # the calibrator keeps every tensor on purpose (and warns about it); constant tensors have an empty range
        warnings.simplefilter("ignore")
        result = q.calibrate({SIGNATURE: samples}, num_threads=1)
        model = q.quantize(result, enable_progress_report=False).quantized_model
    return atomic_write_bytes(dst, bytes(model))


def _input_name(path: Path) -> str:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner(SIGNATURE)
    return next(iter(runner.get_input_details()))
