"""Static layers of extracted subnets. Module names match the official implementation so that
official checkpoints and `net.config` files load unchanged; everything is plain torch.nn, with
torch's own Hardswish/Hardsigmoid so exporters see standard ops."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from ..arch import make_divisible
from ..errors import BadArgumentError

ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "h_swish": nn.Hardswish,
               "h_sigmoid": nn.Hardsigmoid, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def build_activation(name: str | None) -> nn.Module | None:
    if name is None:
        return None
    if name not in ACTIVATIONS:
        raise BadArgumentError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def same_padding(kernel_size: int) -> int:
    return kernel_size // 2


class GlobalAvgPool(nn.Module):
    """Mean over H and W, keeping them as 1x1 (exports as ReduceMean / GlobalAveragePool)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)


class IdentityLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int | None = None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels or in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @property
    def config(self) -> dict[str, Any]:
        return {"name": "IdentityLayer", "in_channels": [self.in_channels],
                "out_channels": [self.out_channels], "use_bn": False, "act_func": None,
                "dropout_rate": 0, "ops_order": "weight_bn_act"}


class ConvLayer(nn.Module):
    """conv → (bn) → (act), the official ConvLayer with ops_order weight_bn_act."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1, bias: bool = False, use_bn: bool = True, act_func: str | None = "relu"):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.groups = kernel_size, stride, groups
        self.bias, self.use_bn, self.act_func = bias, use_bn, act_func
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              same_padding(kernel_size), groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(out_channels) if use_bn else None
        self.act = build_activation(act_func)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x) if self.act is not None else x

    @property
    def config(self) -> dict[str, Any]:
        return {"name": "ConvLayer", "kernel_size": self.kernel_size, "stride": self.stride,
                "dilation": 1, "groups": self.groups, "bias": self.bias, "has_shuffle": False,
                "in_channels": self.in_channels, "out_channels": self.out_channels,
                "use_bn": self.use_bn, "act_func": self.act_func, "dropout_rate": 0,
                "ops_order": "weight_bn_act"}

    @classmethod
    def build_from_config(cls, c: dict[str, Any]) -> "ConvLayer":
        return cls(c["in_channels"], c["out_channels"], c.get("kernel_size", 3), c.get("stride", 1),
                   c.get("groups", 1) or 1, c.get("bias", False), c.get("use_bn", True), c.get("act_func"))


class LinearLayer(nn.Module):
    """(dropout) → linear; the dropout only acts in training."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dropout_rate: float = 0.0):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.bias, self.dropout_rate = bias, dropout_rate
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else None
        self.linear = nn.Linear(in_features, out_features, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dropout is not None:
            x = self.dropout(x)
        return self.linear(x)

    @property
    def config(self) -> dict[str, Any]:
        return {"name": "LinearLayer", "in_features": self.in_features,
                "out_features": self.out_features, "bias": self.bias, "use_bn": False,
                "act_func": None, "dropout_rate": self.dropout_rate, "ops_order": "weight_bn_act"}

    @classmethod
    def build_from_config(cls, c: dict[str, Any]) -> "LinearLayer":
        return cls(c["in_features"], c["out_features"], c.get("bias", True), c.get("dropout_rate", 0))


def se_mid_channels(channels: int, reduction: int = 4) -> int:
    return make_divisible(channels // reduction, 8)


class SEModule(nn.Module):
    """Squeeze-and-excite: pool → 1x1 reduce → relu → 1x1 expand → hard sigmoid → scale."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        mid = se_mid_channels(channels, reduction)
        self.fc = nn.Sequential(OrderedDict([
            ("reduce", nn.Conv2d(channels, mid, 1, bias=True)), ("relu", nn.ReLU()),
            ("expand", nn.Conv2d(mid, channels, 1, bias=True)), ("h_sigmoid", nn.Hardsigmoid())]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=(2, 3), keepdim=True))


def conv_bn(in_ch: int, out_ch: int, ks: int, stride: int = 1, groups: int = 1,
            act: str | None = None, se: bool = False) -> nn.Sequential:
    mods = [("conv", nn.Conv2d(in_ch, out_ch, ks, stride, same_padding(ks), groups=groups, bias=False)),
            ("bn", nn.BatchNorm2d(out_ch))]
    if act is not None:
        mods.append(("act", build_activation(act)))
    if se:
        mods.append(("se", SEModule(out_ch)))
    return nn.Sequential(OrderedDict(mods))


class MBConvLayer(nn.Module):
    """Inverted bottleneck: 1x1 expand (skipped at expand 1) → depthwise k×k (+SE) → 1x1 project."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 expand_ratio: float = 6, mid_channels: int | None = None, act_func: str = "relu6",
                 use_se: bool = False):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.expand_ratio = kernel_size, stride, expand_ratio
        self.mid_channels, self.act_func, self.use_se = mid_channels, act_func, use_se
        mid = mid_channels or round(in_channels * expand_ratio)
        self.inverted_bottleneck = None if expand_ratio == 1 else conv_bn(in_channels, mid, 1, act=act_func)
        self.depth_conv = conv_bn(mid, mid, kernel_size, stride, groups=mid, act=act_func, se=use_se)
        self.point_linear = conv_bn(mid, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverted_bottleneck is not None:
            x = self.inverted_bottleneck(x)
        return self.point_linear(self.depth_conv(x))

    @property
    def config(self) -> dict[str, Any]:
        return {"name": "MBConvLayer", "in_channels": self.in_channels,
                "out_channels": self.out_channels, "kernel_size": self.kernel_size,
                "stride": self.stride, "expand_ratio": self.expand_ratio,
                "mid_channels": self.mid_channels, "act_func": self.act_func, "use_se": self.use_se}

    @classmethod
    def build_from_config(cls, c: dict[str, Any]) -> "MBConvLayer":
        return cls(c["in_channels"], c["out_channels"], c["kernel_size"], c["stride"],
                   c.get("expand_ratio", 6), c.get("mid_channels"), c.get("act_func", "relu6"),
                   c.get("use_se", False))


class ResidualBlock(nn.Module):
    """conv(x) (+ x when the shortcut is an identity)."""

    def __init__(self, conv: nn.Module | None, shortcut: nn.Module | None):
        super().__init__()
        self.conv, self.shortcut = conv, shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is None:
            return x
        if self.shortcut is None:
            return self.conv(x)
        return self.conv(x) + self.shortcut(x)

    @property
    def config(self) -> dict[str, Any]:
        return {"name": "ResidualBlock", "conv": self.conv.config if self.conv is not None else None,
                "shortcut": self.shortcut.config if self.shortcut is not None else None}

    @classmethod
    def build_from_config(cls, c: dict[str, Any]) -> "ResidualBlock":
        conv_cfg = c.get("conv", c.get("mobile_inverted_conv"))
        sc = c.get("shortcut")
        conv = MBConvLayer.build_from_config(conv_cfg) if conv_cfg else None
        shortcut = IdentityLayer(conv.in_channels, conv.out_channels) \
            if sc and sc.get("name") == "IdentityLayer" else None
        return cls(conv, shortcut)


def set_bn_param(model: nn.Module, momentum: float = 0.1, eps: float = 1e-5) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum, m.eps = momentum, eps


def get_bn_param(model: nn.Module) -> dict[str, float]:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            return {"momentum": m.momentum, "eps": m.eps}
    return {"momentum": 0.1, "eps": 1e-5}


def rename_legacy_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Checkpoints saved by older official code name the block body `mobile_inverted_conv`."""
    return OrderedDict((k.replace(".mobile_inverted_conv.", ".conv."), v) for k, v in state_dict.items())
