"""torch → single-file ONNX, shared by every backend that starts from ONNX (onnxruntime,
OpenVINO, TVM). Runtime-specific rewrites (ONNX Runtime's fp16/int8) live in their plugin."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..fileio import atomic_path

OPSET = 17


def to_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, dynamo: bool = False) -> Path:
    """Write one self-contained .onnx file. The TorchScript exporter is the default: it is ~15×
    faster than the dynamo one (which matters when a latency table exports hundreds of ops)
    and writes no external data for our model sizes."""
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = {"external_data": False} if dynamo else {}
        torch.onnx.export(model.eval(), (example,), str(tmp), input_names=["input"], output_names=["logits"],
                          opset_version=OPSET if not dynamo else 18, dynamo=dynamo, **kwargs)
    return path
