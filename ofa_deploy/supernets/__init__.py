"""Elastic supernets. `get_supernet(name, pretrained=...)` is the one door; names live in
ofa_deploy.registry."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def get_supernet(name: str, pretrained: bool = False, weights: str | Path | None = None) -> nn.Module:
    """Build a supernet by registry name; load its weights when `pretrained` (downloaded and
    checksummed by the hub) or from an explicit checkpoint path `weights`."""
    from .. import registry

    record = registry.get_supernet_record(name)
    net = record.build()
    if weights is not None:
        load_checkpoint(net, Path(weights))
    elif pretrained:
        from .. import hub

        load_checkpoint(net, hub.fetch_weights(record))
    net.eval()
    return net


def load_checkpoint(net: nn.Module, path: str | Path) -> nn.Module:
    """Load an official-format checkpoint ({'state_dict': ...} or a bare state dict), strictly."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    net.load_state_dict(state, strict=True)
    return net


def build_static(net_config: dict) -> nn.Module:
    """A static net from an official `net.config` dict (its `name` picks the family)."""
    from ..errors import OfaDeployError

    name = net_config.get("name")
    if name == "MobileNetV3":
        from .mbv3 import MobileNetV3

        return MobileNetV3.build_from_config(net_config)
    builders = {"ProxylessNASNets": "proxyless", "ResNets": "resnet"}
    if name in builders:
        import importlib

        try:
            mod = importlib.import_module(f"{__name__}.{builders[name]}")
        except ImportError:
            mod = None
        if mod is not None and hasattr(mod, "build_from_config"):
            return mod.build_from_config(net_config)
    raise OfaDeployError(f"cannot build a {name!r} net.config: this version builds "
                         f"{['MobileNetV3'] + [k for k in builders]} where their family is installed")
