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
    from ..errors import FileFormatError
    from ..fileio import load_torch_file

    what, fix = (f"a checkpoint of {type(net).__name__} (a state dict)",
                 "download it again (delete the file and let ofa-deploy re-fetch it) or pass the right --weights file")
    obj = load_torch_file(path, what, fix)
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FileFormatError(f"{path} holds a {type(state).__name__}, not {what}; {fix}")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).split("\n\t")[1] if "\n\t" in str(exc) else str(exc)[:200]
        raise FileFormatError(f"{path} does not fit {type(net).__name__} ({first.strip()}); it was saved for "
                              f"another supernet: {fix}") from None
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
