"""A MobileNetV3 written by hand with plain torch.nn layers (nn.Hardswish, nn.Hardsigmoid, no
ofa_deploy code), shaped by an official net.config: the reference tools/bench_backends.py holds
an extracted subnet against. Weights are copied over in module order, shapes checked."""
from __future__ import annotations

import torch
from torch import nn

ACT = {"relu": nn.ReLU, "relu6": nn.ReLU6, "h_swish": nn.Hardswish, None: nn.Identity}


def _div8(v: float) -> int:
    new = max(8, int(v + 4) // 8 * 8)
    return new + 8 if new < 0.9 * v else new


def conv_bn_act(cin, cout, k, stride, act, groups=1, bn=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)]
    layers += [nn.BatchNorm2d(cout)] if bn else []
    return nn.Sequential(*layers, ACT[act]())


class SE(nn.Module):
    def __init__(self, c):
        super().__init__()
        mid = _div8(c // 4)
        self.reduce, self.expand = nn.Conv2d(c, mid, 1), nn.Conv2d(mid, c, 1)

    def forward(self, x):
        s = torch.relu(self.reduce(x.mean((2, 3), keepdim=True)))
        return x * nn.functional.hardsigmoid(self.expand(s))


class Block(nn.Module):
    def __init__(self, c: dict, residual: bool):
        super().__init__()
        cin, cout, k, s, act = c["in_channels"], c["out_channels"], c["kernel_size"], c["stride"], c["act_func"]
        mid = c.get("mid_channels") or _div8(round(cin * c["expand_ratio"]))
        self.expand = conv_bn_act(cin, mid, 1, 1, act) if c["expand_ratio"] != 1 else nn.Identity()
        self.depthwise = conv_bn_act(mid, mid, k, s, act, groups=mid)
        self.se = SE(mid) if c.get("use_se") else nn.Identity()
        self.project = conv_bn_act(mid, cout, 1, 1, None)
        self.residual = residual

    def forward(self, x):
        y = self.project(self.se(self.depthwise(self.expand(x))))
        return x + y if self.residual else y


class HandMobileNetV3(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        f, e, m, cl = cfg["first_conv"], cfg["final_expand_layer"], cfg["feature_mix_layer"], cfg["classifier"]
        self.stem = conv_bn_act(f["in_channels"], f["out_channels"], f["kernel_size"], f["stride"], f["act_func"])
        self.blocks = nn.Sequential(*[Block(b.get("conv") or b["mobile_inverted_conv"], b.get("shortcut") is not None)
                                      for b in cfg["blocks"]])
        self.final = conv_bn_act(e["in_channels"], e["out_channels"], 1, 1, e["act_func"])
        self.mix = conv_bn_act(m["in_channels"], m["out_channels"], 1, 1, m["act_func"], bn=m["use_bn"])
        self.fc = nn.Linear(cl["in_features"], cl["out_features"])

    def forward(self, x):
        x = self.final(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(self.mix(x.mean((2, 3), keepdim=True)), 1))


def handwritten_copy(static: nn.Module) -> HandMobileNetV3:
    """A hand-written net with `static`'s config and weights (copied in module order)."""
    hand = HandMobileNetV3(static.config).eval()
    src, dst = list(static.state_dict().values()), hand.state_dict()
    if len(src) != len(dst):
        raise ValueError(f"the hand-written net has {len(dst)} tensors, the subnet {len(src)}")
    for (k, v), s in zip(dst.items(), src):
        if v.shape != s.shape:
            raise ValueError(f"{k}: shape {tuple(v.shape)} vs the subnet's {tuple(s.shape)}")
        v.copy_(s)
    return hand
