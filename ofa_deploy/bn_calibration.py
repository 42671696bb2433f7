"""BN recalibration: a subnet cut from a supernet inherits running statistics that belong to
the full net. Re-estimate them on a few batches, as the official `set_running_statistics` does:
every BN normalises with its batch statistics while their sample-weighted means accumulate."""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn
from .errors import BadArgumentError


class _Accumulator:
    def __init__(self):
        self.n, self.mean, self.var = 0, None, None

    def add(self, mean: torch.Tensor, var: torch.Tensor, count: int) -> None:
        if self.mean is None:
            self.mean, self.var = mean * 0, var * 0
        self.mean += mean * count
        self.var += var * count
        self.n += count


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable, max_batches: int | None = None) -> nn.Module:
    """Reset and re-estimate every BatchNorm's running mean/var on `batches` (tensors or
    (images, labels) pairs), in place. Returns the model, in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    stats = {bn: _Accumulator() for bn in bns}
    originals = {bn: bn.forward for bn in bns}

    def batch_stat_forward(bn: nn.BatchNorm2d):
        def forward(x: torch.Tensor) -> torch.Tensor:
            mean = x.mean(dim=(0, 2, 3))
            var = ((x - mean[None, :, None, None]) ** 2).mean(dim=(0, 2, 3))
            stats[bn].add(mean, var, x.size(0))
            w, b = bn.weight[: x.size(1)], bn.bias[: x.size(1)]
            return nn.functional.batch_norm(x, mean, var, w, b, False, 0.0, bn.eps)
        return forward

    for bn in bns:
        bn.forward = batch_stat_forward(bn)
    model.eval()
    seen = 0
    try:
        for i, batch in enumerate(batches):
            if max_batches is not None and i >= max_batches:
                break
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            model(x)
            seen += 1
    finally:
        for bn in bns:
            bn.forward = originals[bn]
            del bn.forward  # drop the instance attribute so the class method is used again
    if seen == 0:
        raise BadArgumentError("recalibrate_bn got no batches; pass a loader with at least one batch")
    for bn, acc in stats.items():
        if acc.n:
            c = acc.mean.numel()
            bn.running_mean[:c] = acc.mean / acc.n
            bn.running_var[:c] = acc.var / acc.n
    return model
