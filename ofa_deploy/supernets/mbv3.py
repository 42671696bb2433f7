"""OFA-MobileNetV3: the elastic supernet (kernel 3/5/7, expand 3/4/6, depth 2/3/4 per stage,
elastic resolution), the static MobileNetV3 its subnets become, and the spaces built on it:
the official w1.0 / w1.2 spaces and our small single-channel space for embedded use."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..arch import ArchConfig, SearchSpace, as_rng, make_divisible
from .dynamic import DynamicMBConvLayer
from .layers import (ConvLayer, GlobalAvgPool, IdentityLayer, LinearLayer, MBConvLayer, ResidualBlock,
                     get_bn_param, rename_legacy_keys, set_bn_param)
from .ops import Op


@dataclass(frozen=True)
class MBV3Spec:
    """Everything that fixes the shape of an OFA-MobileNetV3 supernet."""

    name: str
    width_mult: float = 1.0
    base_widths: tuple[int, ...] = (16, 16, 24, 40, 80, 112, 160, 960, 1280)
    strides: tuple[int, ...] = (2, 2, 2, 1, 2)
    acts: tuple[str, ...] = ("relu", "relu", "h_swish", "h_swish", "h_swish")
    se: tuple[bool, ...] = (False, True, False, True, True)
    first_block_act: str = "relu"
    stem_stride: int = 2
    in_channels: int = 3
    n_classes: int = 1000
    dropout_rate: float = 0.1
    ks_list: tuple[int, ...] = (3, 5, 7)
    e_list: tuple[int, ...] = (3, 4, 6)
    d_list: tuple[int, ...] = (2, 3, 4)
    resolutions: tuple[int, ...] = (160, 176, 192, 208, 224)
    min_resolution: int = 128
    max_resolution: int = 260
    resolution_step: int = 4
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5

    @property
    def widths(self) -> list[int]:
        """[stem, first block, stage 1..N, final expand, feature mix] after the width multiplier."""
        return [make_divisible(w * self.width_mult, 8) for w in self.base_widths]

    @property
    def n_stages(self) -> int:
        return len(self.strides)

    @property
    def space(self) -> SearchSpace:
        return SearchSpace(name=self.name, ks_choices=self.ks_list, e_choices=self.e_list,
                           d_choices=self.d_list, stage_depths=(max(self.d_list),) * self.n_stages,
                           resolutions=self.resolutions, min_resolution=self.min_resolution,
                           max_resolution=self.max_resolution, resolution_step=self.resolution_step)

    # ---- ops: the official latency-table decomposition ------------------------------------
    def stage_sizes(self, r: int) -> list[int]:
        """Feature-map size entering each stage, and after the last, at input resolution r."""
        size = (r - 1) // self.stem_stride + 1
        sizes = [size]
        for s in self.strides:
            size = (size - 1) // s + 1
            sizes.append(size)
        return sizes

    def fixed_ops(self, r: int) -> list[Op]:
        """Ops every subnet at resolution r runs: stem, first block and head."""
        w, sizes = self.widths, self.stage_sizes(r)
        f0, fl = sizes[0], sizes[-1]
        return [
            Op("Conv", (r, r, self.in_channels), (f0, f0, w[0]), ks=3, stride=self.stem_stride, act="h_swish"),
            Op("expanded_conv", (f0, f0, w[0]), (f0, f0, w[1]), mid=w[0], ks=3, stride=1,
               idskip=int(w[0] == w[1]), se=0, act=self.first_block_act),
            Op("Conv_1", (fl, fl, w[-3]), (fl, fl, w[-2]), act="h_swish"),
            Op("AvgPool2D", (fl, fl, w[-2]), (1, 1, w[-2])),
            Op("Conv_2", (1, 1, w[-2]), (1, 1, w[-1]), act="h_swish", bn=False),
            Op("Logits", (1, 1, w[-1]), (self.n_classes,)),
        ]

    def block_op(self, r: int, block: int, ks: int, e: float) -> Op:
        """The op of elastic block `block` with kernel ks and expand e, at resolution r."""
        depth = max(self.d_list)
        stage, pos = divmod(block, depth)
        w, sizes = self.widths, self.stage_sizes(r)
        cin = w[1 + stage] if pos == 0 else w[2 + stage]
        cout, stride = w[2 + stage], (self.strides[stage] if pos == 0 else 1)
        fin = sizes[stage] if pos == 0 else sizes[stage + 1]
        fout = sizes[stage + 1]
        return Op("expanded_conv", (fin, fin, cin), (fout, fout, cout),
                  mid=make_divisible(round(cin * e), 8), ks=ks, stride=stride, idskip=int(pos > 0),
                  se=int(self.se[stage]), act=self.acts[stage])

    def arch_ops(self, arch: ArchConfig) -> list[Op]:
        fixed = self.fixed_ops(arch.r)
        blocks = [self.block_op(arch.r, i, arch.ks[i], arch.e[i]) for i in arch.active_blocks(self.space)]
        return fixed[:2] + blocks + fixed[2:]


W10 = MBV3Spec("ofa_mbv3_d234_e346_k357_w1.0", width_mult=1.0, dropout_rate=0.1)
W12 = MBV3Spec("ofa_mbv3_d234_e346_k357_w1.2", width_mult=1.2, dropout_rate=0.1)
# Our embedded default: 28-32 px single-channel images, 10 classes, three stages of up to 3 blocks
# (28 px: 14x14 after the stem, then 7x7, 4x4, 4x4). Sized so progressive shrinking on
# Fashion-MNIST fits in about an hour on a 2-core CPU (largest subnet 6.7M MACs at 28 px).
TINY = MBV3Spec("ofa_tiny_d123_e346_k357", base_widths=(16, 16, 24, 40, 64, 192, 256),
                strides=(2, 2, 1), acts=("relu", "h_swish", "h_swish"), se=(False, True, True),
                stem_stride=2, in_channels=1, n_classes=10, dropout_rate=0.1, d_list=(1, 2, 3),
                resolutions=(24, 28, 32), min_resolution=24, max_resolution=32)


class MobileNetV3(nn.Module):
    """A static MobileNetV3, as extracted from the supernet or built from an official net.config."""

    def __init__(self, first_conv: ConvLayer, blocks: list[ResidualBlock], final_expand_layer: ConvLayer,
                 feature_mix_layer: ConvLayer, classifier: LinearLayer):
        super().__init__()
        self.first_conv = first_conv
        self.blocks = nn.ModuleList(blocks)
        self.final_expand_layer = final_expand_layer
        self.global_avg_pool = GlobalAvgPool()
        self.feature_mix_layer = feature_mix_layer
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_conv(x)
        for block in self.blocks:
            x = block(x)
        x = self.global_avg_pool(self.final_expand_layer(x))
        x = self.feature_mix_layer(x)
        return self.classifier(torch.flatten(x, 1))

    @property
    def config(self) -> dict[str, Any]:
        """The official net.config dict."""
        return {"name": "MobileNetV3", "bn": get_bn_param(self),
                "first_conv": self.first_conv.config, "blocks": [b.config for b in self.blocks],
                "final_expand_layer": self.final_expand_layer.config,
                "feature_mix_layer": self.feature_mix_layer.config, "classifier": self.classifier.config}

    @classmethod
    def build_from_config(cls, c: dict[str, Any]) -> "MobileNetV3":
        net = cls(ConvLayer.build_from_config(c["first_conv"]),
                  [ResidualBlock.build_from_config(b) for b in c["blocks"]],
                  ConvLayer.build_from_config(c["final_expand_layer"]),
                  ConvLayer.build_from_config(c["feature_mix_layer"]),
                  LinearLayer.build_from_config(c["classifier"]))
        set_bn_param(net, **c.get("bn", {}))
        return net

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        return super().load_state_dict(rename_legacy_keys(state_dict), strict=strict, assign=assign)


class OFAMobileNetV3(nn.Module):
    """The elastic OFA-MobileNetV3 supernet. Module tree and state_dict match the official one."""

    def __init__(self, spec: MBV3Spec = W10):
        super().__init__()
        self.spec = spec
        w = spec.widths
        depth = max(spec.d_list)
        self.ks_list, self.expand_ratio_list, self.depth_list = list(spec.ks_list), list(spec.e_list), \
            list(spec.d_list)
        self.first_conv = ConvLayer(spec.in_channels, w[0], 3, spec.stem_stride, act_func="h_swish")
        first = MBConvLayer(w[0], w[1], 3, 1, 1, None, spec.first_block_act, False)
        blocks: list[nn.Module] = [ResidualBlock(first, IdentityLayer(w[0]) if w[0] == w[1] else None)]
        self.block_group_info: list[list[int]] = []
        cin = w[1]
        for stage, (cout, stride, act, se) in enumerate(zip(w[2:2 + spec.n_stages], spec.strides,
                                                             spec.acts, spec.se)):
            self.block_group_info.append([len(blocks) + i for i in range(depth)])
            for i in range(depth):
                conv = DynamicMBConvLayer([cin], [cout], spec.ks_list, spec.e_list,
                                          stride if i == 0 else 1, act, se)
                blocks.append(ResidualBlock(conv, IdentityLayer(cin) if i > 0 else None))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.final_expand_layer = ConvLayer(cin, w[-2], 1, act_func="h_swish")
        self.global_avg_pool = GlobalAvgPool()
        self.feature_mix_layer = ConvLayer(w[-2], w[-1], 1, use_bn=False, act_func="h_swish")
        self.classifier = LinearLayer(w[-1], spec.n_classes, dropout_rate=spec.dropout_rate)
        set_bn_param(self, spec.bn_momentum, spec.bn_eps)
        self.runtime_depth = [len(g) for g in self.block_group_info]
        self._constraints: dict[str, list] = {}

    @property
    def space(self) -> SearchSpace:
        return self.spec.space

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks[0](self.first_conv(x))
        for group, depth in zip(self.block_group_info, self.runtime_depth):
            for idx in group[:depth]:
                x = self.blocks[idx](x)
        x = self.global_avg_pool(self.final_expand_layer(x))
        x = self.feature_mix_layer(x)
        return self.classifier(torch.flatten(x, 1))

    # ---- official method names -------------------------------------------------------------
    def set_max_net(self) -> None:
        self.set_active_subnet(ks=max(self.ks_list), e=max(self.expand_ratio_list), d=max(self.depth_list))

    def set_active_subnet(self, ks=None, e=None, d=None, **kwargs) -> None:
        """Activate a subnet: each of ks, e (per block) and d (per stage) a scalar or a list."""
        n = len(self.blocks) - 1
        per = lambda v, k: [v] * k if v is None or not isinstance(v, (list, tuple)) else list(v)
        for block, k, x in zip(self.blocks[1:], per(ks, n), per(e, n)):
            if k is not None:
                block.conv.active_kernel_size = k
            if x is not None:
                block.conv.active_expand_ratio = x
        for i, dd in enumerate(per(d, len(self.block_group_info))):
            if dd is not None:
                self.runtime_depth[i] = min(len(self.block_group_info[i]), dd)

    def set_constraint(self, include_list, constraint_type: str = "depth") -> None:
        """Restrict what sample_active_subnet draws (progressive shrinking uses this)."""
        if constraint_type not in ("depth", "expand_ratio", "kernel_size"):
            raise ValueError(f"constraint_type must be depth, expand_ratio or kernel_size, not {constraint_type!r}")
        self._constraints[constraint_type] = list(include_list)

    def clear_constraint(self) -> None:
        self._constraints = {}

    def sample_active_subnet(self, rng: Any = None) -> dict[str, list]:
        g = as_rng(rng)
        ks_c = self._constraints.get("kernel_size", self.ks_list)
        e_c = self._constraints.get("expand_ratio", self.expand_ratio_list)
        d_c = self._constraints.get("depth", self.depth_list)
        n = len(self.blocks) - 1
        cfg = {"ks": [int(g.choice(ks_c)) for _ in range(n)],
               "e": [g.choice(e_c).item() for _ in range(n)],
               "d": [int(g.choice(d_c)) for _ in self.block_group_info]}
        self.set_active_subnet(**cfg)
        return cfg

    def get_active_arch(self, r: int | None = None) -> ArchConfig:
        blocks = self.blocks[1:]
        return ArchConfig(ks=[b.conv.active_kernel_size for b in blocks],
                          e=[b.conv.active_expand_ratio for b in blocks], d=list(self.runtime_depth),
                          r=r if r is not None else max(self.spec.resolutions))

    def set_arch(self, arch: ArchConfig) -> None:
        arch.validate(self.space)
        self.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))

    def get_active_subnet(self, preserve_weight: bool = True) -> MobileNetV3:
        """A static MobileNetV3 holding copies of the active weights (no elastic logic left)."""
        blocks = [copy.deepcopy(self.blocks[0])]
        cin = self.blocks[0].conv.out_channels
        for group, depth in zip(self.block_group_info, self.runtime_depth):
            for idx in group[:depth]:
                b = self.blocks[idx]
                blocks.append(ResidualBlock(b.conv.get_active_subnet(cin, preserve_weight),
                                            copy.deepcopy(b.shortcut)))
                cin = b.conv.active_out_channel
        net = MobileNetV3(copy.deepcopy(self.first_conv), blocks, copy.deepcopy(self.final_expand_layer),
                          copy.deepcopy(self.feature_mix_layer), copy.deepcopy(self.classifier))
        set_bn_param(net, **get_bn_param(self))
        return net.train(self.training)

    def get_active_net_config(self) -> dict[str, Any]:
        return self.get_active_subnet(preserve_weight=False).config

    def re_organize_middle_weights(self, expand_ratio_stage: int = 0) -> None:
        for block in self.blocks[1:]:
            block.conv.re_organize_middle_weights(expand_ratio_stage)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        return super().load_state_dict(rename_legacy_keys(state_dict), strict=strict, assign=assign)


def arch_from_net_config(net_config: dict[str, Any], image_size: int, spec: MBV3Spec) -> ArchConfig:
    """Map a static MobileNetV3 net.config onto an arch of `spec`'s space (blocks grouped into
    stages by their output width; skipped blocks get the smallest kernel and expand ratio)."""
    widths = spec.widths
    depth = max(spec.d_list)
    ks, e = [spec.ks_list[0]] * (depth * spec.n_stages), [spec.e_list[0]] * (depth * spec.n_stages)
    d = [0] * spec.n_stages
    for b in net_config["blocks"][1:]:
        c = b.get("conv", b.get("mobile_inverted_conv"))
        stage = widths[2:2 + spec.n_stages].index(c["out_channels"])
        i = stage * depth + d[stage]
        ks[i] = c["kernel_size"]
        mid = c.get("mid_channels") or make_divisible(round(c["in_channels"] * c["expand_ratio"]), 8)
        e[i] = next((x for x in spec.e_list
                     if make_divisible(round(c["in_channels"] * x), 8) == mid), c["expand_ratio"])
        d[stage] += 1
    return ArchConfig(ks=ks, e=e, d=d, r=image_size).validate(spec.space)
