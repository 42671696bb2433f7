"""OFA-MobileNetV3: the elastic supernet (kernel 3/5/7, expand 3/4/6, depth 2/3/4 per stage,
elastic resolution), the static MobileNetV3 its subnets become, and the spaces built on it:
the official w1.0 / w1.2 spaces and our small single-channel space for embedded use."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .layers import ConvLayer, GlobalAvgPool, LinearLayer, ResidualBlock
from .mbnet import ElasticMBNet, MBNetSpec, StaticMBNet, arch_from_net_config
from .ops import Op

__all__ = ["MBV3Spec", "W10", "W12", "TINY", "MobileNetV3", "OFAMobileNetV3", "arch_from_net_config"]


@dataclass(frozen=True)
class MBV3Spec(MBNetSpec):
    """Everything that fixes the shape of an OFA-MobileNetV3 supernet (widths end with the final
    expand and the feature mix)."""

    def head_ops(self, r: int) -> list[Op]:
        """Final expand at the last feature size, pool, feature mix on 1x1 (no BN), logits."""
        w, fl = self.widths, self.stage_sizes(r)[-1]
        return [Op("Conv_1", (fl, fl, w[-3]), (fl, fl, w[-2]), act="h_swish"),
                Op("AvgPool2D", (fl, fl, w[-2]), (1, 1, w[-2])),
                Op("Conv_2", (1, 1, w[-2]), (1, 1, w[-1]), act="h_swish", bn=False),
                Op("Logits", (1, 1, w[-1]), (self.n_classes,))]


W10 = MBV3Spec("ofa_mbv3_d234_e346_k357_w1.0", width_mult=1.0, dropout_rate=0.1)
W12 = MBV3Spec("ofa_mbv3_d234_e346_k357_w1.2", width_mult=1.2, dropout_rate=0.1)
# Our embedded default: 28-32 px single-channel images, 10 classes, three stages of up to 3 blocks
# (28 px: 14x14 after the stem, then 7x7, 4x4, 4x4). Sized so progressive shrinking on
# Fashion-MNIST fits in about an hour on a 2-core CPU (largest subnet 6.7M MACs at 28 px).
TINY = MBV3Spec("ofa_tiny_d123_e346_k357", base_widths=(16, 16, 24, 40, 64, 192, 256),
                strides=(2, 2, 1), acts=("relu", "h_swish", "h_swish"), se=(False, True, True),
                stem_stride=2, in_channels=1, n_classes=10, dropout_rate=0.1, d_list=(1, 2, 3),
                resolutions=(24, 28, 32), min_resolution=24, max_resolution=32)


class MobileNetV3(StaticMBNet):
    """A static MobileNetV3, as extracted from the supernet or built from an official net.config."""

    family = "MobileNetV3"
    head_names = ("final_expand_layer", "feature_mix_layer", "classifier")

    def __init__(self, first_conv: ConvLayer, blocks: list[ResidualBlock], final_expand_layer: ConvLayer,
                 feature_mix_layer: ConvLayer, classifier: LinearLayer):
        super().__init__()
        self.first_conv = first_conv
        self.blocks = nn.ModuleList(blocks)
        self.final_expand_layer = final_expand_layer
        self.global_avg_pool = GlobalAvgPool()
        self.feature_mix_layer = feature_mix_layer
        self.classifier = classifier

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        x = self.feature_mix_layer(self.global_avg_pool(self.final_expand_layer(x)))
        return self.classifier(torch.flatten(x, 1))


class OFAMobileNetV3(ElasticMBNet):
    """The elastic OFA-MobileNetV3 supernet. Module tree and state_dict match the official one."""

    def __init__(self, spec: MBV3Spec = W10):
        super().__init__(spec)

    def build_head(self, cin: int) -> None:
        w = self.spec.widths
        self.final_expand_layer = ConvLayer(cin, w[-2], 1, act_func="h_swish")
        self.global_avg_pool = GlobalAvgPool()
        self.feature_mix_layer = ConvLayer(w[-2], w[-1], 1, use_bn=False, act_func="h_swish")
        self.classifier = LinearLayer(w[-1], self.spec.n_classes, dropout_rate=self.spec.dropout_rate)

    forward_head = MobileNetV3.forward_head

    def static_net(self, first_conv: nn.Module, blocks: list[nn.Module]) -> MobileNetV3:
        return MobileNetV3(first_conv, blocks, *(copy.deepcopy(getattr(self, n)) for n in MobileNetV3.head_names))
