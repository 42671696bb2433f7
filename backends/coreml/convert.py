"""torch → Core ML through coremltools: `.mlpackage` (ML program; fp32/fp16 compute precision,
int8 linear-quantized weights) and `.mlmodel` (neural network; fp16/int8 weight quantization)."""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

SUFFIX = {"mlpackage": ".mlpackage", "mlmodel": ".mlmodel"}


@contextmanager
def quiet():
    """coremltools warns about untested torch versions and missing macOS frameworks on every call,
    and draws its own progress bars: all out of the terminal unless --verbose."""
    from ofa_deploy.log import native_quiet

    with warnings.catch_warnings(), native_quiet():
        warnings.simplefilter("ignore")
        yield


def convert(ct, model: torch.nn.Module, example: torch.Tensor, fmt: str, precision: str):
    """The converted MLModel (not saved yet)."""
    import torch   # here, not at import: listing backends must stay torch-free

    traced = torch.jit.trace(model.eval(), example)
    program = fmt == "mlpackage"
    kwargs = {"convert_to": "mlprogram" if program else "neuralnetwork"}
    if program:
        # iOS16 is the first target with constexpr (quantized-weight) ops
        kwargs.update(minimum_deployment_target=ct.target.iOS16,
                      compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32)
    # explicit fp32 I/O: with an iOS16 target an fp16 program would otherwise take and give fp16
    io = {"dtype": np.float32} if program else {}
    mlmodel = ct.convert(traced, inputs=[ct.TensorType(name="input", shape=tuple(example.shape), **io)],
                         outputs=[ct.TensorType(name="logits", **io)], **kwargs)
    if precision == "int8":
        mlmodel = _int8_weights(ct, mlmodel, program)
    elif precision == "fp16" and not program:
        from coremltools.models.neural_network.quantization_utils import quantize_weights

        mlmodel = quantize_weights(mlmodel, nbits=16)
    return mlmodel


def _int8_weights(ct, mlmodel, program: bool):
    if program:
        import coremltools.optimize.coreml as cto

        cfg = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8"))
        return cto.linear_quantize_weights(mlmodel, cfg)
    from coremltools.models.neural_network.quantization_utils import quantize_weights

    return quantize_weights(mlmodel, nbits=8, quantization_mode="linear")


def fill_output_shape(mlmodel, shape: tuple[int, ...]) -> None:
    """Neural-network specs leave output shapes empty; record the traced one so spec checks can
    compare it (ML programs carry it already)."""
    out = mlmodel._spec.description.output[0].type.multiArrayType
    if not out.shape:
        out.shape.extend(shape)


def save(mlmodel, path: Path) -> Path:
    """Save atomically: an .mlpackage is a folder, so write beside and rename."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
    try:
        mlmodel.save(str(tmp))
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
    return path
