"""Checks every elastic family must pass, written once: the static subnet equals the elastic
forward, and re-ordering channels by importance keeps the largest net's function."""
from __future__ import annotations

import torch


def worst_static_vs_elastic(net, archs, in_channels: int = 3, batch: int = 1, static_type=None) -> float:
    """Largest |Δ| between `net` running each arch and the static subnet it extracts."""
    worst = 0.0
    for arch in archs:
        net.set_arch(arch)
        sub = net.get_active_subnet()
        assert not any("Dynamic" in type(m).__name__ for m in sub.modules())
        if static_type is not None:
            assert isinstance(sub, static_type)
        x = torch.randn(batch, in_channels, arch.r, arch.r)
        with torch.no_grad():
            worst = max(worst, (net(x) - sub(x)).abs().max().item())
    return worst


def reorganize_keeps_function(net, size: int) -> None:
    """re_organize_middle_weights() on the largest net leaves its outputs unchanged."""
    x = torch.randn(1, 3, size, size)
    net.set_max_net()
    with torch.no_grad():
        before = net(x)
        net.re_organize_middle_weights()
        after = net(x)
    assert (before - after).abs().max().item() <= 1e-5 * before.abs().max().item()
