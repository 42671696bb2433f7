"""Input checks for the deploy paths (export, benchmark, validate, running an artifact): a tensor of
the wrong rank, channel count or size is refused here, named with the shape expected, before any
work starts and not deep inside torch or a runtime."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sys

import numpy as np

from ..errors import BadArgumentError


def model_channels(model: torch.nn.Module) -> int | None:
    """The channel count `model` takes: its `input_shape`, else its first convolution's in_channels."""
    import torch   # here, not at import: listing backends must not load torch
    shape = getattr(model, "input_shape", None)
    if shape and len(shape) == 4:
        return int(shape[1])
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            return m.in_channels
    return None


def check_images(x: Any, channels: int | None, name: str, size: Sequence[int] | None = None) -> None:
    """`x` (a tensor or array) must be 4-D NCHW with `channels` channels (and H×W = `size` when given);
    else BadArgumentError naming `name=` and the shape to pass."""
    shape = tuple(getattr(x, "shape", ()))
    want = f"(N, {channels if channels else 'C'}, {size[0] if size else 'H'}, {size[1] if size else 'W'})"
    if len(shape) != 4:
        got = shape if shape else type(x).__name__
        raise BadArgumentError(f"{name} must be a 4-D NCHW tensor {want}, got {got}", name)
    if channels is not None and shape[1] != channels:
        raise BadArgumentError(f"{name} has {shape[1]} channels but the model takes {channels}; pass a tensor "
                               f"of shape {want}", name)
    if size is not None and tuple(shape[2:]) != tuple(size):
        raise BadArgumentError(f"{name} is {shape[2]}×{shape[3]} px but the model was exported for "
                               f"{size[0]}×{size[1]}; pass a tensor of shape {want} (or export at that size)", name)


def check_input(model: torch.nn.Module, example_input: torch.Tensor | None, shape: tuple[int, ...] = ()) -> None:
    """An example input whose rank or channel count the model cannot take fails here, named."""
    if example_input is None:
        return
    import torch

    if not isinstance(example_input, torch.Tensor):
        raise BadArgumentError(f"example_input must be a torch tensor (N, C, H, W), got "
                               f"{type(example_input).__name__}", "example_input")
    check_images(example_input, model_channels(model), "example_input")


def check_calibration(model: torch.nn.Module, calibration: Any) -> None:
    """Calibration data given as a tensor, an array or a list of batches (or (images, labels) pairs)
    must match the model's channels; an iterator is left unread (it may be consumed only once)."""
    if calibration is None:
        return
    import torch

    channels = model_channels(model)
    if isinstance(calibration, (torch.Tensor, np.ndarray)):
        check_images(calibration, channels, "calibration")
        return
    if isinstance(calibration, (list, tuple)):
        for i, batch in enumerate(calibration):
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            if not isinstance(x, (torch.Tensor, np.ndarray)):
                raise BadArgumentError(f"calibration[{i}] is a {type(x).__name__}, not a tensor or array of "
                                       "images (N, C, H, W)", "calibration")
            if x.ndim == 3:   # one image without its batch axis
                x = x[None]
            check_images(x, channels, "calibration")


def check_artifact_input(artifact, inputs: Any) -> np.ndarray:
    """`inputs` for running `artifact` as a float32 array, after checking rank, channels and (for the
    static graphs every backend exports) the spatial size against the artifact's input shape."""
    torch = sys.modules.get("torch")   # a torch tensor implies torch is loaded; never import it here
    if torch is not None and isinstance(inputs, torch.Tensor):
        inputs = inputs.detach().cpu().numpy()
    inputs = np.asarray(inputs)
    shape = tuple(artifact.input_shape or ())
    size = tuple(shape[2:]) if len(shape) == 4 and all(int(v) > 0 for v in shape[2:]) else None
    check_images(inputs, int(shape[1]) if len(shape) == 4 else None, "inputs", size)
    return inputs


def checked_run(run):
    """Wrap a backend's `run(artifact, inputs)` so every plugin checks its inputs the same way."""
    @functools.wraps(run)
    def wrapper(self, artifact, inputs):
        return run(self, artifact, check_artifact_input(artifact, inputs))

    wrapper.checked = True
    return wrapper
