"""Ops: the units a subnet decomposes into, named exactly as the official latency tables name
them (`expanded_conv-input:28x28x24-output:28x28x24-expand:96-kernel:5-stride:1-idskip:1-se:0-hs:0`).

An Op knows its MACs and parameters and can build the static module that runs it, so one list
of ops serves the MAC counter, the latency tables and the table builder alike."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .layers import ConvLayer, GlobalAvgPool, IdentityLayer, LinearLayer, MBConvLayer, ResidualBlock, \
    se_mid_channels

OP_KINDS = ("Conv", "expanded_conv", "Conv_1", "AvgPool2D", "Conv_2", "Logits")


def shape_str(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


@dataclass(frozen=True)
class Op:
    """One op of a subnet. in/out shapes are (H, W, C) — (N,) for the logits' output.

    kind: Conv (stem k×k conv), expanded_conv (MBConv block), Conv_1 / Conv_2 (1x1 convs of the
    head), AvgPool2D, Logits (linear classifier). `act`, `bn` and `ks` of convs are structural
    facts of the family that the official key leaves out."""

    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    mid: int = 0
    ks: int = 1
    stride: int = 1
    idskip: int = 0
    se: int = 0
    act: str | None = None
    bn: bool = True

    @property
    def key(self) -> str:
        parts = [self.kind, f"input:{shape_str(self.in_shape)}", f"output:{shape_str(self.out_shape)}"]
        if self.kind == "expanded_conv":
            parts += [f"expand:{self.mid}", f"kernel:{self.ks}", f"stride:{self.stride}",
                      f"idskip:{self.idskip}", f"se:{self.se}", f"hs:{int(self.act == 'h_swish')}"]
        return "-".join(parts)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of convolutions and linear layers (the official counting rule)."""
        h, w, cin = self.in_shape
        if self.kind == "Logits":
            return cin * self.out_shape[0]
        if self.kind == "AvgPool2D":
            return 0
        ho, wo, cout = self.out_shape
        if self.kind != "expanded_conv":
            return ho * wo * cout * cin * self.ks * self.ks
        macs = 0 if self.mid == cin else h * w * cin * self.mid  # expand 1 has no 1x1 expansion
        macs += ho * wo * self.mid * self.ks * self.ks + ho * wo * self.mid * cout
        if self.se:
            macs += 2 * self.mid * se_mid_channels(self.mid)
        return macs

    @property
    def params(self) -> int:
        cin = self.in_shape[-1]
        if self.kind == "Logits":
            return cin * self.out_shape[0] + self.out_shape[0]
        if self.kind == "AvgPool2D":
            return 0
        cout = self.out_shape[-1]
        if self.kind != "expanded_conv":
            return cout * cin * self.ks * self.ks + (2 * cout if self.bn else 0)
        p = 0 if self.mid == cin else cin * self.mid + 2 * self.mid
        p += self.mid * self.ks * self.ks + 2 * self.mid + self.mid * cout + 2 * cout
        if self.se:
            s = se_mid_channels(self.mid)
            p += 2 * self.mid * s + s + self.mid
        return p

    def build(self) -> nn.Module:
        """A static module that runs this op alone (for measuring its latency)."""
        cin = self.in_shape[-1]
        if self.kind == "Logits":
            return nn.Sequential(nn.Flatten(1), LinearLayer(cin, self.out_shape[0]))
        if self.kind == "AvgPool2D":
            return GlobalAvgPool()
        cout = self.out_shape[-1]
        if self.kind != "expanded_conv":
            return ConvLayer(cin, cout, self.ks, self.stride, use_bn=self.bn, act_func=self.act)
        expand = 1 if self.mid == cin else self.mid / cin
        conv = MBConvLayer(cin, cout, self.ks, self.stride, expand, self.mid, self.act, bool(self.se))
        return ResidualBlock(conv, IdentityLayer(cin) if self.idskip else None)


def total_macs(ops: list[Op]) -> int:
    return sum(op.macs for op in ops)


def total_params(ops: list[Op]) -> int:
    return sum(op.params for op in ops)


def ops_from_net_config(cfg: dict, r: int) -> list[Op]:
    """The ops of a published static net (MobileNetV3 or ProxylessNASNets net.config) at input
    resolution r, without building it: lets device models learn from the official nets."""
    fc = cfg["first_conv"]
    size = (r - 1) // fc["stride"] + 1
    ops = [Op("Conv", (r, r, fc["in_channels"]), (size, size, fc["out_channels"]), ks=fc["kernel_size"],
              stride=fc["stride"], act=fc.get("act_func"))]
    for b in cfg["blocks"]:
        c = b.get("conv", b.get("mobile_inverted_conv"))
        out = (size - 1) // c["stride"] + 1
        mid = c.get("mid_channels") or (c["in_channels"] if c["expand_ratio"] == 1 else
                                        round(c["in_channels"] * c["expand_ratio"]))
        ops.append(Op("expanded_conv", (size, size, c["in_channels"]), (out, out, c["out_channels"]), mid=mid,
                      ks=c["kernel_size"], stride=c["stride"], idskip=int(b.get("shortcut") is not None),
                      se=int(bool(c.get("use_se"))), act=c.get("act_func")))
        size = out
    if cfg.get("final_expand_layer"):  # MobileNetV3: expand, pool, feature mix on 1x1
        fe, fm = cfg["final_expand_layer"], cfg["feature_mix_layer"]
        ops += [Op("Conv_1", (size, size, fe["in_channels"]), (size, size, fe["out_channels"]), act=fe.get("act_func")),
                Op("AvgPool2D", (size, size, fe["out_channels"]), (1, 1, fe["out_channels"])),
                Op("Conv_2", (1, 1, fm["in_channels"]), (1, 1, fm["out_channels"]), act=fm.get("act_func"),
                   bn=fm.get("use_bn", False))]
    else:  # ProxylessNAS: feature mix at full size, then pool
        fm = cfg["feature_mix_layer"]
        ops += [Op("Conv_1", (size, size, fm["in_channels"]), (size, size, fm["out_channels"]), act=fm.get("act_func"),
                   bn=fm.get("use_bn", True)),
                Op("AvgPool2D", (size, size, fm["out_channels"]), (1, 1, fm["out_channels"]))]
    cl = cfg["classifier"]
    return ops + [Op("Logits", (1, 1, cl["in_features"]), (cl["out_features"],))]
