"""torch → fp32 .tflite through litert-torch. The converted graph keeps the torch signature:
one NCHW float32 input (litert-torch inserts the NHWC transposes inside the graph), so `run`
takes our NCHW batches as they are."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch

from ofa_deploy.fileio import atomic_write_bytes


def to_tflite(model: torch.nn.Module, example_input: torch.Tensor, path: Path) -> Path:
    """Convert `model` (eval mode, static batch) to an fp32 .tflite at `path`, written atomically."""
    import litert_torch

    # litert-torch narrates every pass on stdout; our pipeline prints one line per step instead
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), torch.no_grad():
        converted = litert_torch.convert(model.eval(), (example_input.detach().float(),))
        content = bytes(converted.model_content())
    return atomic_write_bytes(path, content)


def to_tflite_signatures(items, path: Path) -> list[str]:
    """Convert several (model, example_input) pairs into one fp32 .tflite with one signature each
    (litert-torch's multi-signature conversion, which shares the converter's fixed cost); return
    the signature names, in order."""
    import litert_torch

    names = [f"m{i}" for i in range(len(items))]
    conv = litert_torch
    for n, (model, example) in zip(names, items):
        conv = conv.signature(n, model.eval(), (example.detach().float(),))
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), torch.no_grad():
        content = bytes(conv.convert().model_content())
    atomic_write_bytes(path, content)
    return names
