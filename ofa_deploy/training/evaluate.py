"""Accuracy of a subnet: extract it, recalibrate its BN on training images, count top-1 hits."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..arch import ArchConfig
from ..bn_calibration import recalibrate_bn
from .data import ImageSet, batches


@torch.no_grad()
def top1(model: nn.Module, data: ImageSet, size: int, mean: Sequence[float], std: Sequence[float],
         batch_size: int = 500, limit: int | None = None, device: torch.device | str = "cpu") -> float:
    """Top-1 accuracy (a fraction) of `model` in eval mode on `data` at resolution `size`."""
    model.eval()
    hits = total = 0
    for x, y in batches(data, batch_size, size, mean=mean, std=std, limit=limit):
        hits += (model(x.to(device)).argmax(1).cpu() == y).sum().item()
        total += len(y)
    return hits / max(total, 1)


def evaluate_arch(supernet: nn.Module, arch: ArchConfig, calib: ImageSet, val: ImageSet,
                  mean: Sequence[float], std: Sequence[float], calib_images: int = 2000,
                  val_limit: int | None = None, device: torch.device | str = "cpu") -> float:
    """Top-1 of `arch` cut from `supernet`, its BN statistics re-estimated on `calib_images`
    training images first (a subnet's inherited statistics belong to the full net)."""
    supernet.set_arch(arch)
    sub = supernet.get_active_subnet()
    calib_batches = (x.to(device) for x, _ in batches(calib, 200, arch.r, seed=1, mean=mean, std=std,
                                                      limit=calib_images))
    recalibrate_bn(sub, calib_batches)
    return top1(sub, val, arch.r, mean, std, limit=val_limit, device=device)
