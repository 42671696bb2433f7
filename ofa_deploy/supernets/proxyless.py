"""OFA-ProxylessNAS: the elastic supernet `ofa_proxyless_d234_e346_k357_w1.3` (kernel 3/5/7,
expand 3/4/6, depth 2/3/4 in five stages plus a one-block last stage, relu6 throughout, no SE),
and the static ProxylessNASNets its subnets and the published GPU/CPU nets become.

Unlike MobileNetV3 the head has no final expand: a 1x1 feature-mix conv WITH BN + relu6 at the
last feature size, then the pool, then the classifier."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .layers import ConvLayer, GlobalAvgPool, LinearLayer, ResidualBlock
from .mbnet import ElasticMBNet, MBNetSpec, StaticMBNet, arch_from_net_config
from .ops import Op

__all__ = ["ProxylessSpec", "W13", "ProxylessNASNets", "OFAProxylessNASNets", "build_from_config",
           "arch_from_net_config"]


@dataclass(frozen=True)
class ProxylessSpec(MBNetSpec):
    """The shape of an OFA-ProxylessNAS supernet (widths end with the feature mix)."""

    base_widths: tuple[int, ...] = (32, 16, 24, 40, 80, 96, 192, 320, 1280)
    strides: tuple[int, ...] = (2, 2, 2, 1, 2, 1)
    acts: tuple[str, ...] = ("relu6",) * 6
    se: tuple[bool, ...] = (False,) * 6
    first_block_act: str = "relu6"
    stem_act: str = "relu6"
    stage_blocks: tuple[int, ...] = (4, 4, 4, 4, 4, 1)
    bn_eps: float = 1e-3

    def head_ops(self, r: int) -> list[Op]:
        """Feature mix (BN + relu6) at the last feature size, pool, logits."""
        w, fl = self.widths, self.stage_sizes(r)[-1]
        return [Op("Conv_1", (fl, fl, w[-2]), (fl, fl, w[-1]), act="relu6"),
                Op("AvgPool2D", (fl, fl, w[-1]), (1, 1, w[-1])),
                Op("Logits", (1, 1, w[-1]), (self.n_classes,))]


W13 = ProxylessSpec("ofa_proxyless_d234_e346_k357_w1.3", width_mult=1.3)


class ProxylessNASNets(StaticMBNet):
    """A static ProxylessNAS net, extracted from the supernet or built from an official net.config."""

    family = "ProxylessNASNets"
    head_names = ("feature_mix_layer", "classifier")

    def __init__(self, first_conv: ConvLayer, blocks: list[ResidualBlock], feature_mix_layer: ConvLayer,
                 classifier: LinearLayer):
        super().__init__()
        self.first_conv = first_conv
        self.blocks = nn.ModuleList(blocks)
        self.feature_mix_layer = feature_mix_layer
        self.global_avg_pool = GlobalAvgPool()
        self.classifier = classifier

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        x = self.global_avg_pool(self.feature_mix_layer(x))
        return self.classifier(torch.flatten(x, 1))


class OFAProxylessNASNets(ElasticMBNet):
    """The elastic OFA-ProxylessNAS supernet. Module names follow the official one."""

    def __init__(self, spec: ProxylessSpec = W13):
        super().__init__(spec)

    def build_head(self, cin: int) -> None:
        w = self.spec.widths
        self.feature_mix_layer = ConvLayer(cin, w[-1], 1, act_func="relu6")
        self.global_avg_pool = GlobalAvgPool()
        self.classifier = LinearLayer(w[-1], self.spec.n_classes, dropout_rate=self.spec.dropout_rate)

    forward_head = ProxylessNASNets.forward_head

    def static_net(self, first_conv: nn.Module, blocks: list[nn.Module]) -> ProxylessNASNets:
        head = (copy.deepcopy(getattr(self, n)) for n in ProxylessNASNets.head_names)
        return ProxylessNASNets(first_conv, blocks, *head)


def build_from_config(net_config: dict[str, Any]) -> ProxylessNASNets:
    """A static ProxylessNASNets from an official net.config dict (used by `build_static`)."""
    return ProxylessNASNets.build_from_config(net_config)
