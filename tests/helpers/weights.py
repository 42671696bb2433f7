"""Random but well-scaled weights and BN statistics, so parity tests between nets can fail."""
from __future__ import annotations

import torch


def randomize(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BN and kernel-transform matrix non-trivial values, so parity tests can fail."""
    g = torch.Generator().manual_seed(seed)
    for name, p in net.state_dict().items():
        if not p.dtype.is_floating_point:
            continue
        rand = torch.rand(p.shape, generator=g)
        if "running_var" in name:
            p.copy_(rand + 0.5)
        elif "matrix" in name:
            p.add_(0.05 * torch.randn(p.shape, generator=g))
        elif p.dim() > 1:  # keep activations O(1) through the depth of the net
            p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
        elif name.endswith("bn.weight") or name.endswith("bn.bn.weight"):
            p.copy_(rand + 0.5)
        else:
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return net.eval()
