"""ResNet layers of OFA-ResNet50: the static ResNet-D bottleneck (stride in the 3x3 conv,
avg-pool + 1x1 conv downsample) and the elastic conv, bottleneck and linear layers whose
active subnets are those static layers. Names follow the official implementation
(`conv1.conv.conv.weight`, `conv1.bn.bn.*`, `downsample.conv.conv.weight`, `classifier.linear.linear`)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..arch import make_divisible
from ..errors import ArchError
from .dynamic import DynamicBatchNorm2d, DynamicConv2d, copy_bn, importance_order, permute_bn
from .layers import ConvLayer, IdentityLayer, LinearLayer, build_activation, same_padding


def bottleneck_mid(out_channels: int, expand_ratio: float) -> int:
    """Middle width of a bottleneck: make_divisible(round(out × e), 8) (official rule)."""
    return make_divisible(round(out_channels * expand_ratio), 8)


def _conv_bn(cin: int, cout: int, ks: int = 1, stride: int = 1, act: str | None = None) -> nn.Sequential:
    mods = [("conv", nn.Conv2d(cin, cout, ks, stride, same_padding(ks), bias=False)), ("bn", nn.BatchNorm2d(cout))]
    return nn.Sequential(OrderedDict(mods + ([("act", build_activation(act))] if act else [])))


def _avgpool(stride: int) -> nn.AvgPool2d:
    return nn.AvgPool2d(kernel_size=stride, stride=stride, padding=0, ceil_mode=True)


class ResNetBottleneckBlock(nn.Module):
    """1x1 reduce → k×k (with the stride) → 1x1 expand, plus identity or avg-pool+1x1 downsample, then relu."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 expand_ratio: float = 0.25, mid_channels: int | None = None, act_func: str = "relu"):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size, self.stride = in_channels, out_channels, kernel_size, stride
        self.expand_ratio, self.act_func = expand_ratio, act_func
        mid = self.mid_channels = make_divisible(mid_channels or round(out_channels * expand_ratio), 8)
        self.conv1 = _conv_bn(in_channels, mid, 1, act=act_func)
        self.conv2 = _conv_bn(mid, mid, kernel_size, stride, act=act_func)
        self.conv3 = _conv_bn(mid, out_channels, 1)
        if stride == 1 and in_channels == out_channels:
            self.downsample: nn.Module = IdentityLayer(in_channels)
        else:
            self.downsample = nn.Sequential(OrderedDict([("avg_pool", _avgpool(stride)),
                                                         *_conv_bn(in_channels, out_channels).named_children()]))
        self.final_act = build_activation(act_func)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_act(self.conv3(self.conv2(self.conv1(x))) + self.downsample(x))

    @property
    def config(self) -> dict[str, Any]:
        return {"name": "ResNetBottleneckBlock", "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "expand_ratio": self.expand_ratio,
                "mid_channels": self.mid_channels, "act_func": self.act_func, "groups": 1,
                "downsample_mode": "avgpool_conv"}

    @classmethod
    def build_from_config(cls, c: dict[str, Any]) -> "ResNetBottleneckBlock":
        return cls(c["in_channels"], c["out_channels"], c.get("kernel_size", 3), c.get("stride", 1),
                   c.get("expand_ratio", 0.25), c.get("mid_channels"), c.get("act_func", "relu"))


class DynamicConvLayer(nn.Module):
    """conv → bn → act with an elastic output width (one of `out_channel_list`)."""

    def __init__(self, in_channel_list, out_channel_list, kernel_size: int = 3, stride: int = 1,
                 act_func: str = "relu"):
        super().__init__()
        self.in_channel_list, self.out_channel_list = list(in_channel_list), list(out_channel_list)
        self.kernel_size, self.stride, self.act_func = kernel_size, stride, act_func
        self.conv = DynamicConv2d(max(self.in_channel_list), max(self.out_channel_list), kernel_size, stride)
        self.bn = DynamicBatchNorm2d(max(self.out_channel_list))
        self.act = build_activation(act_func)
        self.active_out_channel = max(self.out_channel_list)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.conv.active_out_channel = self.active_out_channel
        return self.act(self.bn(self.conv(x)))

    def get_active_subnet(self, in_channel: int, preserve_weight: bool = True) -> ConvLayer:
        sub = ConvLayer(in_channel, self.active_out_channel, self.kernel_size, self.stride, act_func=self.act_func)
        if preserve_weight:
            with torch.no_grad():
                sub.conv.weight.copy_(self.conv.active_weight(self.active_out_channel, in_channel))
                copy_bn(sub.bn, self.bn.bn)
        return sub


def _dyn_conv_bn(cin: int, cout: int, ks: int = 1, stride: int = 1, act: str | None = None) -> nn.Sequential:
    mods = [("conv", DynamicConv2d(cin, cout, ks, stride)), ("bn", DynamicBatchNorm2d(cout))]
    return nn.Sequential(OrderedDict(mods + ([("act", build_activation(act))] if act else [])))


def _copy_conv_bn(dst: nn.Sequential, src: nn.Sequential, cout: int, cin: int) -> None:
    dst.conv.weight.copy_(src.conv.active_weight(cout, cin))
    copy_bn(dst.bn, src.bn.bn)


class DynamicResNetBottleneckBlock(nn.Module):
    """The elastic bottleneck: elastic expand ratio (middle width) and output width."""

    def __init__(self, in_channel_list, out_channel_list, expand_ratio_list=(0.25,), kernel_size: int = 3,
                 stride: int = 1, act_func: str = "relu"):
        super().__init__()
        self.in_channel_list, self.out_channel_list = list(in_channel_list), list(out_channel_list)
        self.expand_ratio_list = sorted(expand_ratio_list)
        self.kernel_size, self.stride, self.act_func = kernel_size, stride, act_func
        max_in, max_out = max(self.in_channel_list), max(self.out_channel_list)
        max_mid = bottleneck_mid(max_out, max(self.expand_ratio_list))
        self.conv1 = _dyn_conv_bn(max_in, max_mid, act=act_func)
        self.conv2 = _dyn_conv_bn(max_mid, max_mid, kernel_size, stride, act=act_func)
        self.conv3 = _dyn_conv_bn(max_mid, max_out)
        if stride == 1 and self.in_channel_list == self.out_channel_list:
            self.downsample: nn.Module = IdentityLayer(max_in)
        else:
            self.downsample = nn.Sequential(OrderedDict([("avg_pool", _avgpool(stride)),
                                                         *_dyn_conv_bn(max_in, max_out).named_children()]))
        self.final_act = build_activation(act_func)
        self.active_expand_ratio = max(self.expand_ratio_list)
        self.active_out_channel = max_out

    @property
    def active_middle_channels(self) -> int:
        return bottleneck_mid(self.active_out_channel, self.active_expand_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mid = self.active_middle_channels
        self.conv1.conv.active_out_channel = self.conv2.conv.active_out_channel = mid
        self.conv3.conv.active_out_channel = self.active_out_channel
        if not isinstance(self.downsample, IdentityLayer):
            self.downsample.conv.active_out_channel = self.active_out_channel
        return self.final_act(self.conv3(self.conv2(self.conv1(x))) + self.downsample(x))

    def get_active_subnet(self, in_channel: int, preserve_weight: bool = True) -> ResNetBottleneckBlock:
        mid, out = self.active_middle_channels, self.active_out_channel
        sub = ResNetBottleneckBlock(in_channel, out, self.kernel_size, self.stride, self.active_expand_ratio,
                                    mid, self.act_func)
        if isinstance(self.downsample, IdentityLayer) != isinstance(sub.downsample, IdentityLayer):
            raise ArchError(f"bottleneck {in_channel}→{out} stride {self.stride}: the active widths change whether "
                             f"it has a downsample; pick the same width gene for every block of a stage")
        if preserve_weight:
            with torch.no_grad():
                _copy_conv_bn(sub.conv1, self.conv1, mid, in_channel)
                _copy_conv_bn(sub.conv2, self.conv2, mid, mid)
                _copy_conv_bn(sub.conv3, self.conv3, out, mid)
                if not isinstance(self.downsample, IdentityLayer):
                    _copy_conv_bn(sub.downsample, self.downsample, out, in_channel)
        return sub

    @torch.no_grad()
    def re_organize_middle_weights(self, expand_ratio_stage: int = 0) -> None:
        """Sort both middle widths by importance (L1 of the weights that read them), so every
        expand ratio keeps the most important channels; with expand_ratio_stage > 0, channels
        shared by the smaller ratios in use keep their place in that group."""
        widths = [bottleneck_mid(max(self.out_channel_list), e) for e in sorted(self.expand_ratio_list, reverse=True)]
        for reader, writer in ((self.conv3, self.conv2), (self.conv2, self.conv1)):
            idx = importance_order(reader.conv.conv.weight, widths, expand_ratio_stage)
            reader.conv.conv.weight.data = torch.index_select(reader.conv.conv.weight.data, 1, idx)
            permute_bn(writer.bn.bn, idx)
            writer.conv.conv.weight.data = torch.index_select(writer.conv.conv.weight.data, 0, idx)


class DynamicLinearLayer(nn.Module):
    """(dropout) → linear over the first C input features (C = the active final width)."""

    def __init__(self, in_features_list, out_features: int, bias: bool = True, dropout_rate: float = 0.0):
        super().__init__()
        self.in_features_list, self.out_features = list(in_features_list), out_features
        self.bias, self.dropout_rate = bias, dropout_rate
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else None
        self.linear = nn.Module()
        self.linear.linear = nn.Linear(max(self.in_features_list), out_features, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dropout is not None:
            x = self.dropout(x)
        lin = self.linear.linear
        return F.linear(x, lin.weight[:, : x.size(1)], lin.bias)

    def get_active_subnet(self, in_features: int, preserve_weight: bool = True) -> LinearLayer:
        sub = LinearLayer(in_features, self.out_features, self.bias, self.dropout_rate)
        if preserve_weight:
            with torch.no_grad():
                sub.linear.weight.copy_(self.linear.linear.weight[:, :in_features])
                if self.bias:
                    sub.linear.bias.copy_(self.linear.linear.bias)
        return sub
