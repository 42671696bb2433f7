"""MACs and parameters: analytic from an arch (no net built; vectorized for search), and by
counting hooks on a built module (the check the analytic numbers are tested against)."""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import torch
from torch import nn

from .arch import ArchBatch, ArchConfig
from .cost import AdditiveCost


@lru_cache(maxsize=None)
def _models(supernet: str) -> tuple[AdditiveCost, AdditiveCost]:
    from .registry import get_supernet_record

    spec = get_supernet_record(supernet).spec
    return AdditiveCost(spec, lambda op, r: op.macs), AdditiveCost(spec, lambda op, r: op.params)


def _count(supernet: str, archs, which: int):
    from .registry import get_supernet_record

    spec = get_supernet_record(supernet).spec
    if not hasattr(spec, "count"):  # block-decomposable: additive per-op tables
        return _models(supernet)[which].predict(archs)
    batch, single = ArchBatch.coerce(spec.space, archs)  # ResNet: widths depend on stage genes, counted directly
    out = spec.count(batch)[which].astype(float)
    return float(out[0]) if single else out


def count_macs(supernet: str, archs: ArchConfig | Sequence[ArchConfig] | ArchBatch):
    """MACs of conv and linear layers (the official counting rule) for one arch or a batch."""
    return _count(supernet, archs, 0)


def count_params(supernet: str, archs: ArchConfig | Sequence[ArchConfig] | ArchBatch):
    """Parameters of the extracted static subnet (BN affine and biases included)."""
    return _count(supernet, archs, 1)


def profile_module(model: nn.Module, input_shape: Sequence[int]) -> tuple[int, int]:
    """(MACs, params) of a built module, by running it once with counting hooks."""
    macs = [0]

    def conv_hook(m: nn.Conv2d, inp, out):
        macs[0] += out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m: nn.Linear, inp, out):
        macs[0] += m.in_features * m.out_features

    hooks = [m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else linear_hook)
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape[1:]) if len(input_shape) == 4 else torch.zeros(*input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return macs[0], sum(p.numel() for p in model.parameters())

