"""What OFA's MobileNet-like supernets share (OFA-MobileNetV3 and OFA-ProxylessNAS): a stem conv,
a fixed first block, stages of elastic MBConv blocks and a family-specific head. A spec
dataclass fixes the shape; the elastic base class holds the official methods; subclasses add
only their head and their static net class."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from torch import nn

from ..arch import ArchConfig, SearchSpace, as_rng, make_divisible, subnet_genes
from .dynamic import DynamicMBConvLayer
from .layers import (ConvLayer, IdentityLayer, LinearLayer, MBConvLayer, ResidualBlock,
                     get_bn_param, rename_legacy_keys, set_bn_param)
from .ops import Op
from ..errors import BadArgumentError


@dataclass(frozen=True)
class MBNetSpec:
    """The shape of a MobileNet-like OFA supernet. widths (after the multiplier) are
    [stem, first block, stage 1..N, head widths...]; `stage_blocks` empty means max(d_list) blocks
    in every stage."""

    name: str
    width_mult: float = 1.0
    base_widths: tuple[int, ...] = (16, 16, 24, 40, 80, 112, 160, 960, 1280)
    strides: tuple[int, ...] = (2, 2, 2, 1, 2)
    acts: tuple[str, ...] = ("relu", "relu", "h_swish", "h_swish", "h_swish")
    se: tuple[bool, ...] = (False, True, False, True, True)
    first_block_act: str = "relu"
    stem_act: str = "h_swish"
    stem_stride: int = 2
    in_channels: int = 3
    n_classes: int = 1000
    dropout_rate: float = 0.1
    ks_list: tuple[int, ...] = (3, 5, 7)
    e_list: tuple[int, ...] = (3, 4, 6)
    d_list: tuple[int, ...] = (2, 3, 4)
    stage_blocks: tuple[int, ...] = ()
    resolutions: tuple[int, ...] = (160, 176, 192, 208, 224)
    min_resolution: int = 128
    max_resolution: int = 260
    resolution_step: int = 4
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5

    @cached_property   # built once: block_op asks for it for every table entry
    def widths(self) -> list[int]:
        """[stem, first block, stage 1..N, head...] after the width multiplier."""
        return [make_divisible(w * self.width_mult, 8) for w in self.base_widths]

    @property
    def n_stages(self) -> int:
        return len(self.strides)

    @property
    def stage_depths(self) -> tuple[int, ...]:
        """Most blocks each stage can run."""
        return self.stage_blocks or (max(self.d_list),) * self.n_stages

    @cached_property   # built once: block_op asks for it for every table entry
    def space(self) -> SearchSpace:
        return SearchSpace(name=self.name, ks_choices=self.ks_list, e_choices=self.e_list,
                           d_choices=self.d_list, stage_depths=self.stage_depths,
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

    def body_ops(self, r: int) -> list[Op]:
        """Stem and first block: the ops before the elastic blocks."""
        w, f0 = self.widths, self.stage_sizes(r)[0]
        return [Op("Conv", (r, r, self.in_channels), (f0, f0, w[0]), ks=3, stride=self.stem_stride, act=self.stem_act),
                Op("expanded_conv", (f0, f0, w[0]), (f0, f0, w[1]), mid=w[0], ks=3, stride=1,
                   idskip=int(w[0] == w[1]), se=0, act=self.first_block_act)]

    def head_ops(self, r: int) -> list[Op]:
        """The ops after the elastic blocks (family-specific)."""
        raise NotImplementedError

    def fixed_ops(self, r: int) -> list[Op]:
        """Ops every subnet at resolution r runs: stem, first block and head."""
        return self.body_ops(r) + self.head_ops(r)

    def block_op(self, r: int, block: int, ks: int, e: float) -> Op:
        """The op of elastic block `block` with kernel ks and expand e, at resolution r."""
        sp = self.space
        stage, pos = sp.block_stage[block], sp.block_position[block]
        w, sizes = self.widths, self.stage_sizes(r)
        cin = w[1 + stage] if pos == 0 else w[2 + stage]
        cout, stride = w[2 + stage], (self.strides[stage] if pos == 0 else 1)
        fin = sizes[stage] if pos == 0 else sizes[stage + 1]
        fout = sizes[stage + 1]
        return Op("expanded_conv", (fin, fin, cin), (fout, fout, cout),
                  mid=make_divisible(round(cin * e), 8), ks=ks, stride=stride, idskip=int(pos > 0),
                  se=int(self.se[stage]), act=self.acts[stage])

    def arch_ops(self, arch: ArchConfig) -> list[Op]:
        """Every op `arch` runs, in order."""
        blocks = [self.block_op(arch.r, i, arch.ks[i], arch.e[i]) for i in arch.active_blocks(self.space)]
        return self.body_ops(arch.r) + blocks + self.head_ops(arch.r)


class StaticMBNet(nn.Module):
    """A static MobileNet-like net: stem, blocks, then the family's head (`forward_head`)."""

    family = ""
    head_names: tuple[str, ...] = ()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_conv(x)
        for block in self.blocks:
            x = block(x)
        return self.forward_head(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def config(self) -> dict[str, Any]:
        """The official net.config dict."""
        return {"name": self.family, "bn": get_bn_param(self), "first_conv": self.first_conv.config,
                "blocks": [b.config for b in self.blocks],
                **{n: getattr(self, n).config for n in self.head_names}}

    @classmethod
    def build_from_config(cls, c: dict[str, Any]) -> "StaticMBNet":
        head = [(LinearLayer if n == "classifier" else ConvLayer).build_from_config(c[n]) for n in cls.head_names]
        net = cls(ConvLayer.build_from_config(c["first_conv"]),
                  [ResidualBlock.build_from_config(b) for b in c["blocks"]], *head)
        set_bn_param(net, **c.get("bn", {}))
        return net

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        return super().load_state_dict(rename_legacy_keys(state_dict), strict=strict, assign=assign)


class ElasticMBNet(nn.Module):
    """The elastic body and official methods (set_active_subnet, sample_active_subnet,
    get_active_subnet, ...) shared by OFA's MobileNet-like supernets. Subclasses build the head in
    `build_head(cin)` (registered after the blocks, as the official state_dict orders it), run it in
    `forward_head` and assemble their static net in `static_net`."""

    def __init__(self, spec: MBNetSpec):
        super().__init__()
        self.spec = spec
        w = spec.widths
        self.ks_list, self.expand_ratio_list, self.depth_list = list(spec.ks_list), list(spec.e_list), \
            list(spec.d_list)
        self.first_conv = ConvLayer(spec.in_channels, w[0], 3, spec.stem_stride, act_func=spec.stem_act)
        first = MBConvLayer(w[0], w[1], 3, 1, 1, None, spec.first_block_act, False)
        blocks: list[nn.Module] = [ResidualBlock(first, IdentityLayer(w[0]) if w[0] == w[1] else None)]
        self.block_group_info: list[list[int]] = []
        cin = w[1]
        for stage, (n, stride, act, se) in enumerate(zip(spec.stage_depths, spec.strides, spec.acts, spec.se)):
            cout = w[2 + stage]
            self.block_group_info.append([len(blocks) + i for i in range(n)])
            for i in range(n):
                conv = DynamicMBConvLayer([cin], [cout], spec.ks_list, spec.e_list, stride if i == 0 else 1, act, se)
                blocks.append(ResidualBlock(conv, IdentityLayer(cin) if i > 0 else None))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.build_head(cin)
        set_bn_param(self, spec.bn_momentum, spec.bn_eps)
        self.runtime_depth = [len(g) for g in self.block_group_info]
        self._constraints: dict[str, list] = {}

    def build_head(self, cin: int) -> None:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def static_net(self, first_conv: nn.Module, blocks: list[nn.Module]) -> StaticMBNet:
        raise NotImplementedError

    @property
    def space(self) -> SearchSpace:
        return self.spec.space

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks[0](self.first_conv(x))
        for group, depth in zip(self.block_group_info, self.runtime_depth):
            for idx in group[:depth]:
                x = self.blocks[idx](x)
        return self.forward_head(x)

    # ---- official method names -------------------------------------------------------------
    def set_max_net(self) -> None:
        """Activate the largest subnet."""
        self.set_active_subnet(ks=max(self.ks_list), e=max(self.expand_ratio_list), d=max(self.depth_list))

    def set_active_subnet(self, ks=None, e=None, d=None, **kwargs) -> None:
        """Activate a subnet: each of ks, e (per block) and d (per stage) a scalar or a list."""
        n, net = len(self.blocks) - 1, type(self).__name__
        ks = subnet_genes(net, "ks", ks, n, self.ks_list, "one per block")
        e = subnet_genes(net, "e", e, n, self.expand_ratio_list, "one per block")
        d = subnet_genes(net, "d", d, len(self.block_group_info), self.depth_list, "one per stage")
        for block, k, x in zip(self.blocks[1:], ks, e):
            if k is not None:
                block.conv.active_kernel_size = k
            if x is not None:
                block.conv.active_expand_ratio = x
        for i, dd in enumerate(d):
            if dd is not None:
                self.runtime_depth[i] = min(len(self.block_group_info[i]), dd)

    def set_constraint(self, include_list, constraint_type: str = "depth") -> None:
        """Restrict what sample_active_subnet draws (progressive shrinking uses this)."""
        if constraint_type not in ("depth", "expand_ratio", "kernel_size"):
            raise BadArgumentError(f"constraint_type must be depth, expand_ratio or kernel_size, not {constraint_type!r}")
        self._constraints[constraint_type] = list(include_list)

    def clear_constraint(self) -> None:
        """Let sample_active_subnet draw from the whole space again."""
        self._constraints = {}

    def sample_active_subnet(self, rng: Any = None) -> dict[str, list]:
        """Activate a random subnet (within the constraints) and return its {ks, e, d}."""
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
        """The active subnet as an ArchConfig (at resolution r, default the largest search one)."""
        blocks = self.blocks[1:]
        d = [max(dd, min(self.depth_list)) for dd in self.runtime_depth]  # clipped stages read as the least gene
        return ArchConfig(ks=[b.conv.active_kernel_size for b in blocks],
                          e=[b.conv.active_expand_ratio for b in blocks], d=d,
                          r=r if r is not None else max(self.spec.resolutions))

    def set_arch(self, arch: ArchConfig) -> None:
        """Activate the subnet `arch` describes (validated against the space)."""
        arch.validate(self.space)
        self.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))

    def get_active_subnet(self, preserve_weight: bool = True) -> StaticMBNet:
        """A static net holding copies of the active weights (no elastic logic left)."""
        blocks = [copy.deepcopy(self.blocks[0])]
        cin = self.blocks[0].conv.out_channels
        for group, depth in zip(self.block_group_info, self.runtime_depth):
            for idx in group[:depth]:
                b = self.blocks[idx]
                blocks.append(ResidualBlock(b.conv.get_active_subnet(cin, preserve_weight),
                                            copy.deepcopy(b.shortcut)))
                cin = b.conv.active_out_channel
        net = self.static_net(copy.deepcopy(self.first_conv), blocks)
        set_bn_param(net, **get_bn_param(self))
        return net.train(self.training)

    def get_active_net_config(self) -> dict[str, Any]:
        """The official net.config of the active subnet."""
        return self.get_active_subnet(preserve_weight=False).config

    def re_organize_middle_weights(self, expand_ratio_stage: int = 0) -> None:
        """Sort every elastic block's middle channels by importance (see DynamicMBConvLayer)."""
        for block in self.blocks[1:]:
            block.conv.re_organize_middle_weights(expand_ratio_stage)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        return super().load_state_dict(rename_legacy_keys(state_dict), strict=strict, assign=assign)


def arch_from_net_config(net_config: dict[str, Any], image_size: int, spec: MBNetSpec) -> ArchConfig:
    """Map a static net.config (MobileNetV3 or ProxylessNASNets) onto an arch of `spec`'s space:
    blocks are grouped into stages by their output width; skipped blocks get the smallest kernel
    and expand ratio; a stage that can hold fewer blocks than the least depth gene reads as it."""
    widths, depths = spec.widths, spec.stage_depths
    starts = [sum(depths[:s]) for s in range(spec.n_stages)]
    ks, e = [spec.ks_list[0]] * sum(depths), [spec.e_list[0]] * sum(depths)
    d = [0] * spec.n_stages
    for b in net_config["blocks"][1:]:
        c = b.get("conv", b.get("mobile_inverted_conv"))
        stage = widths[2:2 + spec.n_stages].index(c["out_channels"])
        i = starts[stage] + d[stage]
        ks[i] = c["kernel_size"]
        mid = c.get("mid_channels") or make_divisible(round(c["in_channels"] * c["expand_ratio"]), 8)
        e[i] = next((x for x in spec.e_list
                     if make_divisible(round(c["in_channels"] * x), 8) == mid), c["expand_ratio"])
        d[stage] += 1
    d = [max(n, min(spec.d_list)) if n == depths[s] else n for s, n in enumerate(d)]
    return ArchConfig(ks=ks, e=e, d=d, r=image_size).validate(spec.space)
