"""Elastic layers: one set of max-size weights, sliced at run time to the active kernel size,
expand ratio and channel count. Module and parameter names follow the official implementation
(`conv.conv.weight`, `bn.bn.*`, `7to5_matrix`, `se.fc.reduce`) so official checkpoints load."""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..arch import make_divisible
from .layers import MBConvLayer, build_activation, same_padding, se_mid_channels


def _crop(ks_from: int, ks_to: int) -> slice:
    start = (ks_from - ks_to) // 2
    return slice(start, start + ks_to)


class DynamicConv2d(nn.Module):
    """A k×k (usually 1x1) convolution whose input and output channels are elastic."""

    def __init__(self, max_in: int, max_out: int, kernel_size: int = 1, stride: int = 1):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.conv = nn.Conv2d(max_in, max_out, kernel_size, stride, bias=False)
        self.active_out_channel = max_out

    def active_weight(self, out_channel: int, in_channel: int) -> torch.Tensor:
        return self.conv.weight[:out_channel, :in_channel]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.active_weight(self.active_out_channel, x.size(1))
        return F.conv2d(x, w, None, self.stride, same_padding(self.kernel_size))


class DynamicSeparableConv2d(nn.Module):
    """Depthwise convolution with an elastic kernel: smaller kernels are centre crops of the
    largest, each passed through a learned (k²×k²) transform, largest to smallest in turn."""

    def __init__(self, max_channels: int, kernel_size_list, stride: int = 1):
        super().__init__()
        self.ks_list = sorted(set(kernel_size_list))
        self.stride = stride
        max_ks = self.ks_list[-1]
        self.conv = nn.Conv2d(max_channels, max_channels, max_ks, stride, groups=max_channels, bias=False)
        for small, large in zip(self.ks_list[:-1], self.ks_list[1:]):
            self.register_parameter(f"{large}to{small}_matrix", nn.Parameter(torch.eye(small * small)))
        self.active_kernel_size = max_ks

    def active_filter(self, channels: int, kernel_size: int) -> torch.Tensor:
        w = self.conv.weight[:channels]
        for large, small in zip(reversed(self.ks_list[1:]), reversed(self.ks_list[:-1])):
            if large <= kernel_size:
                break
            crop = w[:, :, _crop(large, small), _crop(large, small)].reshape(-1, small * small)
            w = F.linear(crop, getattr(self, f"{large}to{small}_matrix")).view(channels, 1, small, small)
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, ks = x.size(1), self.active_kernel_size
        return F.conv2d(x, self.active_filter(c, ks), None, self.stride, same_padding(ks), 1, c)


class DynamicBatchNorm2d(nn.Module):
    """BatchNorm over the first C channels of a max-size BN (running stats updated in place)."""

    def __init__(self, max_features: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(max_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, bn = x.size(1), self.bn
        if c == bn.num_features:
            return bn(x)
        use_batch_stats = self.training or not bn.track_running_stats
        if self.training and bn.track_running_stats:
            bn.num_batches_tracked += 1
        return F.batch_norm(x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c],
                            use_batch_stats, bn.momentum, bn.eps)


class DynamicSE(nn.Module):
    """Squeeze-and-excite sized to the active channel count (mid = make_divisible(C/4, 8))."""

    def __init__(self, max_channels: int, reduction: int = 4):
        super().__init__()
        self.reduction = reduction
        mid = se_mid_channels(max_channels, reduction)
        self.fc = nn.Sequential(OrderedDict([
            ("reduce", nn.Conv2d(max_channels, mid, 1, bias=True)), ("relu", nn.ReLU()),
            ("expand", nn.Conv2d(mid, max_channels, 1, bias=True)), ("h_sigmoid", nn.Hardsigmoid())]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.size(1)
        mid = se_mid_channels(c, self.reduction)
        r, e = self.fc.reduce, self.fc.expand
        y = x.mean(dim=(2, 3), keepdim=True)
        y = F.relu(F.conv2d(y, r.weight[:mid, :c], r.bias[:mid]))
        y = F.hardsigmoid(F.conv2d(y, e.weight[:c, :mid], e.bias[:c]))
        return x * y


def _dyn_seq(mods) -> nn.Sequential:
    return nn.Sequential(OrderedDict((k, m) for k, m in mods if m is not None))


def copy_bn(target: nn.BatchNorm2d, source: nn.BatchNorm2d) -> None:
    c = target.num_features
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(target, name).data.copy_(getattr(source, name).data[:c])
    target.num_batches_tracked.data.copy_(source.num_batches_tracked.data)


def permute_bn(bn: nn.BatchNorm2d, idx: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        t = getattr(bn, name)
        t.data = torch.index_select(t.data, 0, idx)


def importance_order(reader_weight: torch.Tensor, widths: list[int], expand_ratio_stage: int = 0) -> torch.Tensor:
    """Channel order by importance (L1 of the weights that read each channel), most important
    first; with expand_ratio_stage > 0, channels inside the widths of the smaller ratios in use
    stay inside their group (widths: the middle widths, largest first)."""
    importance = reader_weight.abs().sum(dim=(0, 2, 3))
    if expand_ratio_stage > 0:
        right, base = len(importance), -len(widths) * 1e5
        for left in widths[: expand_ratio_stage + 1]:
            importance[left:right] += base
            base += 1e5
            right = left
    return torch.argsort(importance, descending=True)


class DynamicMBConvLayer(nn.Module):
    """The elastic inverted-bottleneck block: elastic kernel size and expand ratio."""

    def __init__(self, in_channel_list, out_channel_list, kernel_size_list=(3, 5, 7),
                 expand_ratio_list=(3, 4, 6), stride: int = 1, act_func: str = "relu6", use_se: bool = False):
        super().__init__()
        self.in_channel_list, self.out_channel_list = list(in_channel_list), list(out_channel_list)
        self.kernel_size_list, self.expand_ratio_list = list(kernel_size_list), list(expand_ratio_list)
        self.stride, self.act_func, self.use_se = stride, act_func, use_se
        max_in, max_out = max(self.in_channel_list), max(self.out_channel_list)
        max_mid = make_divisible(round(max_in * max(self.expand_ratio_list)), 8)
        self.inverted_bottleneck = _dyn_seq([
            ("conv", DynamicConv2d(max_in, max_mid)), ("bn", DynamicBatchNorm2d(max_mid)),
            ("act", build_activation(act_func))])
        self.depth_conv = _dyn_seq([
            ("conv", DynamicSeparableConv2d(max_mid, self.kernel_size_list, stride)),
            ("bn", DynamicBatchNorm2d(max_mid)), ("act", build_activation(act_func)),
            ("se", DynamicSE(max_mid) if use_se else None)])
        self.point_linear = _dyn_seq([("conv", DynamicConv2d(max_mid, max_out)),
                                      ("bn", DynamicBatchNorm2d(max_out))])
        self.active_kernel_size = max(self.kernel_size_list)
        self.active_expand_ratio = max(self.expand_ratio_list)
        self.active_out_channel = max_out

    def active_middle_channel(self, in_channel: int) -> int:
        return make_divisible(round(in_channel * self.active_expand_ratio), 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inverted_bottleneck.conv.active_out_channel = self.active_middle_channel(x.size(1))
        self.depth_conv.conv.active_kernel_size = self.active_kernel_size
        self.point_linear.conv.active_out_channel = self.active_out_channel
        return self.point_linear(self.depth_conv(self.inverted_bottleneck(x)))

    def get_active_subnet(self, in_channel: int, preserve_weight: bool = True) -> MBConvLayer:
        mid = self.active_middle_channel(in_channel)
        sub = MBConvLayer(in_channel, self.active_out_channel, self.active_kernel_size, self.stride,
                          self.active_expand_ratio, mid, self.act_func, self.use_se)
        sub = sub.to(self.point_linear.conv.conv.weight.device)
        if not preserve_weight:
            return sub
        with torch.no_grad():
            ib, dc, pl = self.inverted_bottleneck, self.depth_conv, self.point_linear
            sub.inverted_bottleneck.conv.weight.copy_(ib.conv.active_weight(mid, in_channel))
            copy_bn(sub.inverted_bottleneck.bn, ib.bn.bn)
            sub.depth_conv.conv.weight.copy_(dc.conv.active_filter(mid, self.active_kernel_size))
            copy_bn(sub.depth_conv.bn, dc.bn.bn)
            if self.use_se:
                se_mid = se_mid_channels(mid)
                src, dst = dc.se.fc, sub.depth_conv.se.fc
                dst.reduce.weight.copy_(src.reduce.weight[:se_mid, :mid])
                dst.reduce.bias.copy_(src.reduce.bias[:se_mid])
                dst.expand.weight.copy_(src.expand.weight[:mid, :se_mid])
                dst.expand.bias.copy_(src.expand.bias[:mid])
            sub.point_linear.conv.weight.copy_(pl.conv.active_weight(self.active_out_channel, mid))
            copy_bn(sub.point_linear.bn, pl.bn.bn)
        return sub

    @torch.no_grad()
    def re_organize_middle_weights(self, expand_ratio_stage: int = 0) -> torch.Tensor:
        """Sort the middle channels by importance (L1 of the projection weights) so that every
        expand ratio keeps the most important ones. With expand_ratio_stage > 0, channels
        already shared by the smaller ratios in use keep their place in that group."""
        widths = [make_divisible(round(max(self.in_channel_list) * e), 8)
                  for e in sorted(self.expand_ratio_list, reverse=True)]
        idx = importance_order(self.point_linear.conv.conv.weight, widths, expand_ratio_stage)
        pl, dc, ib = self.point_linear, self.depth_conv, self.inverted_bottleneck
        pl.conv.conv.weight.data = torch.index_select(pl.conv.conv.weight.data, 1, idx)
        permute_bn(dc.bn.bn, idx)
        dc.conv.conv.weight.data = torch.index_select(dc.conv.conv.weight.data, 0, idx)
        if self.use_se:
            fc = dc.se.fc
            fc.expand.weight.data = torch.index_select(fc.expand.weight.data, 0, idx)
            fc.expand.bias.data = torch.index_select(fc.expand.bias.data, 0, idx)
            fc.reduce.weight.data = torch.index_select(fc.reduce.weight.data, 1, idx)
            se_idx = torch.argsort(fc.expand.weight.abs().sum(dim=(0, 2, 3)), descending=True)
            fc.expand.weight.data = torch.index_select(fc.expand.weight.data, 1, se_idx)
            fc.reduce.weight.data = torch.index_select(fc.reduce.weight.data, 0, se_idx)
            fc.reduce.bias.data = torch.index_select(fc.reduce.bias.data, 0, se_idx)
        permute_bn(ib.bn.bn, idx)
        ib.conv.conv.weight.data = torch.index_select(ib.conv.conv.weight.data, 0, idx)
        return idx
