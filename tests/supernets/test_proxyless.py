"""OFA-ProxylessNAS w1.3: official module names, static subnets equal to the elastic forward,
analytic MACs/params, and the 16 published ProxylessNAS nets."""
import json

import pytest
import torch

from ofa_deploy import count_macs, count_params
from ofa_deploy.arch import ArchBatch
from ofa_deploy.profile import profile_module
from ofa_deploy.supernets import build_static
from ofa_deploy.supernets.ops import ops_from_net_config
from ofa_deploy.supernets.proxyless import W13, OFAProxylessNASNets, ProxylessNASNets, arch_from_net_config
from tests.helpers.weights import randomize
from tests.helpers.supernet_checks import loads_back, rebuilt_from_config, reorganize_keeps_function, worst_static_vs_elastic

NAME = "ofa_proxyless_d234_e346_k357_w1.3"


@pytest.fixture(scope="module")
def net():
    return randomize(OFAProxylessNASNets(), seed=3)


def published(specialized_dir):
    out = []
    for d in sorted(specialized_dir.iterdir()):
        cfg = json.loads((d / "net.config").read_text())
        if cfg["name"] == "ProxylessNASNets":
            out.append((d.name, cfg, json.loads((d / "run.config").read_text())["image_size"]))
    return out


def test_official_module_names_and_shapes():
    sd = OFAProxylessNASNets().state_dict()
    shapes = {k: list(v.shape) for k, v in sd.items()}
    assert W13.widths == [40, 24, 32, 56, 104, 128, 248, 416, 1664]
    assert shapes["first_conv.conv.weight"] == [40, 3, 3, 3]
    assert shapes["blocks.0.conv.depth_conv.conv.weight"] == [40, 1, 3, 3]
    assert shapes["blocks.0.conv.point_linear.conv.weight"] == [24, 40, 1, 1]
    assert "blocks.0.conv.inverted_bottleneck.conv.weight" not in shapes  # expand 1
    assert shapes["blocks.1.conv.inverted_bottleneck.conv.conv.weight"] == [144, 24, 1, 1]
    assert shapes["blocks.1.conv.depth_conv.conv.7to5_matrix"] == [25, 25]
    assert shapes["blocks.21.conv.point_linear.conv.conv.weight"] == [416, 1488, 1, 1]
    assert shapes["feature_mix_layer.conv.weight"] == [1664, 416, 1, 1]
    assert shapes["feature_mix_layer.bn.running_var"] == [1664]
    assert shapes["classifier.linear.weight"] == [1000, 1664]
    assert not any(k.startswith("final_expand_layer") or ".se." in k for k in sd)
    assert "blocks.22.conv.depth_conv.conv.weight" not in shapes  # 1 + 5×4 + 1 blocks
    net = OFAProxylessNASNets()
    assert [type(b.shortcut).__name__ for b in net.blocks[:6]] == \
        ["NoneType", "NoneType", "IdentityLayer", "IdentityLayer", "IdentityLayer", "NoneType"]
    assert net.blocks[21].shortcut is None  # 248 → 416, stride 1: no skip
    assert {(m.momentum, m.eps) for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {(0.1, 1e-3)}
    assert all(isinstance(m, torch.nn.ReLU6) for m in net.modules()
               if isinstance(m, (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.Hardswish)))


def test_official_checkpoint_with_legacy_keys_loads_strictly(tmp_path, net):
    legacy = {k.replace(".conv.", ".mobile_inverted_conv.", 1) if k.startswith("blocks.") else k: v
              for k, v in net.state_dict().items()}
    loads_back(legacy, tmp_path / NAME, NAME, net, 128, OFAProxylessNASNets)


def test_static_subnet_equals_elastic_forward(net):
    """50 random archs (plus the extremes) at several resolutions: max |Δ| ≤ 1e-5."""
    space = W13.space
    archs = ArchBatch.sample(space, 50, rng=7, resolutions=(128, 144, 160, 176)).to_archs()
    archs += [space.largest(224), space.smallest(128)]
    assert worst_static_vs_elastic(net, archs, static_type=ProxylessNASNets) <= 1e-5


def test_counter_equals_hooks():
    net = OFAProxylessNASNets()
    for arch in ArchBatch.sample(W13.space, 4, rng=5, resolutions=(128, 176, 224)).to_archs():
        net.set_arch(arch)
        assert profile_module(net.get_active_subnet(), (1, 3, arch.r, arch.r)) == \
            (count_macs(NAME, arch), count_params(NAME, arch))


def test_published_nets_build_and_map_to_archs(specialized_dir):
    nets = published(specialized_dir)
    assert len(nets) == 16
    sup = OFAProxylessNASNets()
    for name, cfg, r in nets:
        static = build_static(cfg)
        assert isinstance(static, ProxylessNASNets), name
        assert json.dumps(static.config["blocks"][0]["conv"]["in_channels"]) == "40"
        arch = arch_from_net_config(cfg, r, W13)
        assert len(arch.ks) == 21 and len(arch.d) == 6, name
        assert profile_module(static, (1, 3, r, r)) == (count_macs(NAME, arch), count_params(NAME, arch)), name
        assert [op.key for op in ops_from_net_config(cfg, r)] == [op.key for op in W13.arch_ops(arch)], name
        sup.set_arch(arch)  # the same arch cut from the supernet has the published structure
        cut = sup.get_active_subnet(preserve_weight=False)
        assert [tuple(v.shape) for v in cut.state_dict().values()] == \
            [tuple(v.shape) for v in static.state_dict().values()], name
        assert sup.get_active_arch(r) == arch, name


def test_official_method_names():
    net = OFAProxylessNASNets()
    net.set_active_subnet(ks=5, e=4, d=2)
    assert net.runtime_depth == [2, 2, 2, 2, 2, 1]  # the last stage holds one block
    cfg = net.sample_active_subnet(rng=0)
    assert set(cfg) == {"ks", "e", "d"} and len(cfg["ks"]) == 21 and len(cfg["d"]) == 6
    net.get_active_arch().validate(W13.space)
    net.set_max_net()
    assert net.runtime_depth == [4, 4, 4, 4, 4, 1]
    assert net.get_active_arch().d == (4, 4, 4, 4, 4, 2)  # a clipped stage reads as the least gene
    net.set_constraint([3], "kernel_size")
    assert set(net.sample_active_subnet(rng=1)["ks"]) == {3}
    net.clear_constraint()


def test_active_net_config_round_trips(net):
    net.set_arch(W13.space.sample(rng=4))
    sub = net.get_active_subnet()
    cfg = net.get_active_net_config()
    assert cfg["name"] == "ProxylessNASNets" and "final_expand_layer" not in cfg
    rebuilt_from_config(cfg, sub, 128, ProxylessNASNets)


def test_reorganize_keeps_max_net_function():
    net = randomize(OFAProxylessNASNets(), seed=5)
    reorganize_keeps_function(net, 128)
    w = net.blocks[3].conv.point_linear.conv.conv.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(w[:-1] >= w[1:])
