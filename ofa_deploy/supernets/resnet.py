"""OFA-ResNet50 (`ofa_resnet50`): the elastic ResNet-D supernet (depth d ∈ {0,1,2} above the base
depths [2, 2, 4, 2] per stage plus a skippable stem conv, bottleneck expand e ∈ {0.2, 0.25, 0.35},
width multiplier index w ∈ {0,1,2} → {0.65, 0.8, 1.0} for the two stem convs and the four
stages), the static ResNets its subnets become, and an analytic MAC/parameter counter.

Arch genes: d = [stem, stage 1..4] (the stem's middle conv runs only at d = 2), e one per block
(18), w = [stem mid conv, stem out conv, stage 1..4] as indices into the width list."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..arch import ArchBatch, ArchConfig, SearchSpace, as_rng, make_divisible, subnet_genes
from .dynamic_resnet import DynamicConvLayer, DynamicLinearLayer, DynamicResNetBottleneckBlock, ResNetBottleneckBlock
from .layers import ConvLayer, GlobalAvgPool, IdentityLayer, LinearLayer, ResidualBlock, get_bn_param, set_bn_param
from ..errors import BadArgumentError


@dataclass(frozen=True)
class ResNetSpec:
    """Everything that fixes the shape of an OFA-ResNet supernet."""

    name: str
    base_depths: tuple[int, ...] = (2, 2, 4, 2)
    stage_widths: tuple[int, ...] = (256, 512, 1024, 2048)
    strides: tuple[int, ...] = (1, 2, 2, 2)
    stem_width: int = 64
    d_list: tuple[int, ...] = (0, 1, 2)
    e_list: tuple[float, ...] = (0.2, 0.25, 0.35)
    width_mult_list: tuple[float, ...] = (0.65, 0.8, 1.0)
    in_channels: int = 3
    n_classes: int = 1000
    dropout_rate: float = 0.1
    resolutions: tuple[int, ...] = (160, 176, 192, 208, 224)
    min_resolution: int = 128
    max_resolution: int = 256
    resolution_step: int = 4
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5

    @property
    def stem_out(self) -> list[int]:
        """Width choices of the stem's last conv (the stages' input)."""
        return [make_divisible(self.stem_width * m, 8) for m in self.width_mult_list]

    @property
    def stem_mid(self) -> list[int]:
        """Width choices of the stem's first two convs."""
        return [make_divisible(c // 2, 8) for c in self.stem_out]

    @property
    def widths(self) -> list[list[int]]:
        """Width choices of each stage."""
        return [[make_divisible(w * m, 8) for m in self.width_mult_list] for w in self.stage_widths]

    @property
    def stage_depths(self) -> tuple[int, ...]:
        return tuple(b + max(self.d_list) for b in self.base_depths)

    @property
    def space(self) -> SearchSpace:
        return SearchSpace(name=self.name, ks_choices=(), e_choices=self.e_list, d_choices=self.d_list,
                           stage_depths=self.stage_depths, resolutions=self.resolutions,
                           min_resolution=self.min_resolution, max_resolution=self.max_resolution,
                           resolution_step=self.resolution_step, stage_base=self.base_depths, d_offset=1,
                           w_choices=tuple(range(len(self.width_mult_list))), n_w=2 + len(self.stage_widths))

    def count(self, batch: ArchBatch) -> tuple[np.ndarray, np.ndarray]:
        """(MACs, params) of every arch in `batch`, as the extracted static nets have them
        (conv and linear MACs; BN affine and biases in params), vectorized over the batch."""
        r, w, d = batch.r.astype(np.int64), batch.w, batch.d
        s = (r - 1) // 2 + 1                                  # after the stride-2 stem conv
        mid, c = np.asarray(self.stem_mid)[w[:, 0]], np.asarray(self.stem_out)[w[:, 1]]
        stem1 = d[:, 0] == max(self.d_list)
        macs = s * s * 9 * (self.in_channels * mid + stem1 * mid * mid + mid * c)
        params = 9 * self.in_channels * mid + 2 * mid + stem1 * (9 * mid * mid + 2 * mid) + 9 * mid * c + 2 * c
        size, cin, active = (s - 1) // 2 + 1, c, batch.active_mask()  # max pool
        sp = self.space
        for b, (stage, pos) in enumerate(zip(sp.block_stage, sp.block_position)):
            cout = np.asarray(self.widths[stage])[w[:, 2 + stage]]
            m = make_mid(cout, batch.e[:, b])
            fout = (size - 1) // self.strides[stage] + 1 if pos == 0 else size
            bm = size * size * cin * m + fout * fout * (9 * m * m + m * cout)
            bp = cin * m + 9 * m * m + m * cout + 4 * m + 2 * cout
            if pos == 0:  # the downsample path
                bm, bp = bm + fout * fout * cin * cout, bp + cin * cout + 2 * cout
            on = active[:, b]
            macs, params = macs + on * bm, params + on * bp
            size, cin = np.where(on, fout, size), np.where(on, cout, cin)
        return macs + cin * self.n_classes, params + cin * self.n_classes + self.n_classes


def make_mid(out_channels: np.ndarray, e: np.ndarray) -> np.ndarray:
    """bottleneck_mid over arrays (make-divisible by 8, never 10 % below)."""
    v = np.round(out_channels * e)
    m = np.maximum(8, ((v + 4) // 8) * 8)
    return np.where(m < 0.9 * v, m + 8, m).astype(np.int64)


R50 = ResNetSpec("ofa_resnet50")


class ResNets(nn.Module):
    """A static ResNet-D: input stem, 3x3/2 max pool, bottlenecks, global pool, classifier."""

    def __init__(self, input_stem: list[nn.Module], blocks: list[nn.Module], classifier: LinearLayer):
        super().__init__()
        self.input_stem = nn.ModuleList(input_stem)
        self.max_pooling = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.blocks = nn.ModuleList(blocks)
        self.global_avg_pool = GlobalAvgPool()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.input_stem:
            x = layer(x)
        x = self.max_pooling(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(torch.flatten(self.global_avg_pool(x), 1))

    @property
    def config(self) -> dict[str, Any]:
        """The official net.config dict."""
        return {"name": "ResNets", "bn": get_bn_param(self), "input_stem": [m.config for m in self.input_stem],
                "blocks": [b.config for b in self.blocks], "classifier": self.classifier.config}

    @classmethod
    def build_from_config(cls, c: dict[str, Any]) -> "ResNets":
        stem = []
        for layer in c["input_stem"]:
            if layer["name"] == "ResidualBlock":
                conv = ConvLayer.build_from_config(layer["conv"])
                stem.append(ResidualBlock(conv, IdentityLayer(conv.out_channels)))
            else:
                stem.append(ConvLayer.build_from_config(layer))
        net = cls(stem, [ResNetBottleneckBlock.build_from_config(b) for b in c["blocks"]],
                  LinearLayer.build_from_config(c["classifier"]))
        set_bn_param(net, **c.get("bn", {}))
        return net


def build_from_config(net_config: dict[str, Any]) -> ResNets:
    """A static ResNets from an official net.config dict (used by `build_static`)."""
    return ResNets.build_from_config(net_config)


class OFAResNets(nn.Module):
    """The elastic OFA-ResNet supernet. Module names and state_dict follow the official one."""

    def __init__(self, spec: ResNetSpec = R50):
        super().__init__()
        self.spec = spec
        self.depth_list, self.expand_ratio_list = sorted(spec.d_list), sorted(spec.e_list)
        self.width_mult_list = sorted(spec.width_mult_list)
        mid, out = spec.stem_mid, spec.stem_out
        self.input_stem = nn.ModuleList([
            DynamicConvLayer([spec.in_channels], mid, 3, 2),
            ResidualBlock(DynamicConvLayer(mid, mid, 3, 1), IdentityLayer(max(mid))),
            DynamicConvLayer(mid, out, 3, 1)])
        self.max_pooling = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        blocks, cin = [], out
        self.grouped_block_index: list[list[int]] = []
        for n, width, stride in zip(spec.stage_depths, spec.widths, spec.strides):
            self.grouped_block_index.append(list(range(len(blocks), len(blocks) + n)))
            for i in range(n):
                blocks.append(DynamicResNetBottleneckBlock(cin, width, spec.e_list, 3, stride if i == 0 else 1))
                cin = width
        self.blocks = nn.ModuleList(blocks)
        self.global_avg_pool = GlobalAvgPool()
        self.classifier = DynamicLinearLayer(cin, spec.n_classes, dropout_rate=spec.dropout_rate)
        set_bn_param(self, spec.bn_momentum, spec.bn_eps)
        self.input_stem_skipping = 0
        # the genes as set: some map to the same net (stem mid widths [24, 24, 32]; stem d 0 and 1)
        self._stem_d, self._w = max(spec.d_list), [len(spec.width_mult_list) - 1] * (2 + len(spec.stage_depths))
        self.runtime_depth = [0] * len(spec.stage_depths)  # blocks skipped per stage (official meaning)
        self._constraints: dict[str, list] = {}

    @property
    def space(self) -> SearchSpace:
        return self.spec.space

    def active_block_index(self) -> list[int]:
        """Indices of the blocks the active subnet runs."""
        return [i for group, skip in zip(self.grouped_block_index, self.runtime_depth) for i in group[:len(group) - skip]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.input_stem):
            if not (i == 1 and self.input_stem_skipping):
                x = layer(x)
        x = self.max_pooling(x)
        for i in self.active_block_index():
            x = self.blocks[i](x)
        return self.classifier(torch.flatten(self.global_avg_pool(x), 1))

    # ---- official method names -------------------------------------------------------------
    def set_max_net(self) -> None:
        """Activate the largest subnet."""
        self.set_active_subnet(d=max(self.depth_list), e=max(self.expand_ratio_list), w=len(self.width_mult_list) - 1)

    def set_active_subnet(self, d=None, e=None, w=None, **kwargs) -> None:
        """Activate a subnet: d per [stem, stage...], e per block, w (width index) per
        [stem mid, stem out, stage...]; each a scalar or a list (None leaves a gene as it is)."""
        net, n_st = type(self).__name__, len(self.runtime_depth)
        depth = subnet_genes(net, "d", d, 1 + n_st, self.depth_list, "one for the stem, then one per stage")
        expand = subnet_genes(net, "e", e, len(self.blocks), self.expand_ratio_list, "one per block")
        width = subnet_genes(net, "w", w, 2 + n_st, range(len(self.width_mult_list)),
                             "a width index for stem mid, stem out, then one per stage")
        for block, x in zip(self.blocks, expand):
            if x is not None:
                block.active_expand_ratio = x
        stem0, stem1, stem2 = self.input_stem[0], self.input_stem[1].conv, self.input_stem[2]
        self._w = [old if new is None else new for old, new in zip(self._w, width)]
        if width[0] is not None:
            stem0.active_out_channel = stem1.active_out_channel = stem0.out_channel_list[width[0]]
        if width[1] is not None:
            stem2.active_out_channel = stem2.out_channel_list[width[1]]
        if depth[0] is not None:
            self._stem_d = depth[0]
            self.input_stem_skipping = int(depth[0] != max(self.depth_list))
        for stage, (group, dd, ww) in enumerate(zip(self.grouped_block_index, depth[1:], width[2:])):
            if dd is not None:
                self.runtime_depth[stage] = max(self.depth_list) - dd
            if ww is not None:
                for i in group:
                    self.blocks[i].active_out_channel = self.blocks[i].out_channel_list[ww]

    def set_constraint(self, include_list, constraint_type: str = "depth") -> None:
        """Restrict what sample_active_subnet draws (progressive shrinking uses this)."""
        if constraint_type not in ("depth", "expand_ratio", "width_mult"):
            raise BadArgumentError(f"constraint_type must be depth, expand_ratio or width_mult, not {constraint_type!r}")
        self._constraints[constraint_type] = list(include_list)

    def clear_constraint(self) -> None:
        """Let sample_active_subnet draw from the whole space again."""
        self._constraints = {}

    def sample_active_subnet(self, rng: Any = None) -> dict[str, list]:
        """Activate a random subnet and return its {d, e, w}; the stem's depth is drawn from
        {min, max} as the official sampler does (every d < max skips the same conv)."""
        g = as_rng(rng)
        d_c = self._constraints.get("depth", self.depth_list)
        e_c = self._constraints.get("expand_ratio", self.expand_ratio_list)
        w_c = self._constraints.get("width_mult", list(range(len(self.width_mult_list))))
        cfg = {"d": [int(g.choice([max(d_c), min(d_c)]))] + [int(g.choice(d_c)) for _ in self.runtime_depth],
               "e": [g.choice(e_c).item() for _ in self.blocks],
               "w": [int(g.choice(w_c)) for _ in range(2 + len(self.runtime_depth))]}
        self.set_active_subnet(**cfg)
        return cfg

    def get_active_arch(self, r: int | None = None) -> ArchConfig:
        """The active subnet as an ArchConfig (at resolution r, default the largest search one)."""
        top = max(self.depth_list)
        return ArchConfig(ks=(), e=[b.active_expand_ratio for b in self.blocks],
                          d=[self._stem_d] + [top - s for s in self.runtime_depth],
                          r=r if r is not None else max(self.spec.resolutions), w=self._w)

    def set_arch(self, arch: ArchConfig) -> None:
        """Activate the subnet `arch` describes (validated against the space)."""
        arch.validate(self.space)
        self.set_active_subnet(d=list(arch.d), e=list(arch.e), w=list(arch.w))

    def get_active_subnet(self, preserve_weight: bool = True) -> ResNets:
        """A static ResNets holding copies of the active weights (no elastic logic left)."""
        s0, s2 = self.input_stem[0], self.input_stem[2]
        mid = s0.active_out_channel
        stem = [s0.get_active_subnet(self.spec.in_channels, preserve_weight)]
        if not self.input_stem_skipping:
            stem.append(ResidualBlock(self.input_stem[1].conv.get_active_subnet(mid, preserve_weight),
                                      IdentityLayer(mid)))
        stem.append(s2.get_active_subnet(mid, preserve_weight))
        blocks, cin = [], s2.active_out_channel
        for i in self.active_block_index():
            blocks.append(self.blocks[i].get_active_subnet(cin, preserve_weight))
            cin = self.blocks[i].active_out_channel
        net = ResNets(stem, blocks, self.classifier.get_active_subnet(cin, preserve_weight))
        set_bn_param(net, **get_bn_param(self))
        return net.train(self.training)

    def get_active_net_config(self) -> dict[str, Any]:
        """The official net.config of the active subnet."""
        return self.get_active_subnet(preserve_weight=False).config

    def re_organize_middle_weights(self, expand_ratio_stage: int = 0) -> None:
        """Sort every bottleneck's middle channels by importance (see DynamicResNetBottleneckBlock)."""
        for block in self.blocks:
            block.re_organize_middle_weights(expand_ratio_stage)


__all__ = ["ResNetSpec", "R50", "ResNets", "OFAResNets", "build_from_config"]
