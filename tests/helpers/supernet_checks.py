"""Checks every elastic family must pass, written once: the static subnet equals the elastic
forward, re-ordering channels by importance keeps the largest net's function, and a saved
checkpoint loads back into the same function."""
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


def loads_back(state_dict, path, name: str, net, size: int, supernet_type) -> None:
    """`state_dict` saved as an official-format checkpoint at `path` loads by `name` (strictly)
    into a `supernet_type` that computes exactly what `net` does."""
    from ofa_deploy import get_supernet

    torch.save({"state_dict": state_dict}, path)
    loaded = get_supernet(name, weights=path)
    assert isinstance(loaded, supernet_type)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


def rebuilt_from_config(cfg: dict, sub, size: int, static_type) -> None:
    """Build a static net from `cfg` (after a JSON round trip), load `sub`'s weights into it and
    check it computes exactly what `sub` does."""
    import json

    from ofa_deploy.supernets import build_static

    rebuilt = build_static(json.loads(json.dumps(cfg))).eval()
    assert isinstance(rebuilt, static_type)
    rebuilt.load_state_dict(sub.state_dict())
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), sub(x))
