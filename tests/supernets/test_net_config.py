"""Official specialized nets: net.config → static net, and → an arch of our space."""
import json

import pytest
import torch

from ofa_deploy import count_macs, count_params
from ofa_deploy.profile import profile_module
from ofa_deploy.supernets.mbv3 import W10, W12, MobileNetV3, OFAMobileNetV3, arch_from_net_config


def mbv3_nets(specialized_dir):
    out = []
    for d in sorted(specialized_dir.iterdir()):
        cfg = json.loads((d / "net.config").read_text())
        if cfg["name"] == "MobileNetV3":
            out.append((d.name, cfg, json.loads((d / "run.config").read_text())["image_size"]))
    return out


def test_every_published_mobilenetv3_builds_and_maps_to_an_arch(specialized_dir):
    nets = mbv3_nets(specialized_dir)
    assert len(nets) >= 30
    for name, cfg, r in nets:
        spec = W10 if cfg["first_conv"]["out_channels"] == 16 else W12
        static = MobileNetV3.build_from_config(cfg)
        arch = arch_from_net_config(cfg, r, spec)
        macs, params = profile_module(static, (1, 3, r, r))
        assert (count_macs(spec.name, arch), count_params(spec.name, arch)) == (macs, params), name
        # the same arch cut from the supernet has the same structure as the published net
        sup = OFAMobileNetV3(spec)
        sup.set_arch(arch)
        cut = sup.get_active_subnet()
        assert [tuple(v.shape) for v in cut.state_dict().values()] == \
            [tuple(v.shape) for v in static.state_dict().values()], name


def test_pixel1_40ms_matches_published_figures(specialized_dir):
    d = specialized_dir / "pixel1_lat-40ms_top1-74.9_finetune-25"
    cfg = json.loads((d / "net.config").read_text())
    arch = arch_from_net_config(cfg, 172, W10)
    assert arch.r == 172
    assert round(count_params(W10.name, arch) / 1e6, 1) == 6.0   # published: 6.0M params
    assert abs(count_macs(W10.name, arch) / 1e6 - 162) < 3       # published: 162M MACs


def test_init_checkpoint_with_legacy_keys_loads(tmp_path, specialized_dir):
    cfg = json.loads((specialized_dir / "note10_lat-8ms_top1-71.4_finetune-25" / "net.config").read_text())
    net = MobileNetV3.build_from_config(cfg)
    legacy = {k.replace(".conv.", ".mobile_inverted_conv.", 1) if k.startswith("blocks.") else k: v
              for k, v in net.state_dict().items()}
    assert any("mobile_inverted_conv" in k for k in legacy)
    torch.save({"state_dict": legacy}, tmp_path / "init")
    net2 = MobileNetV3.build_from_config(cfg)
    net2.load_state_dict(torch.load(tmp_path / "init", weights_only=True)["state_dict"])
    assert json.dumps(net2.config, sort_keys=True) == json.dumps(net.config, sort_keys=True)
