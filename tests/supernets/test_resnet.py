"""OFA-ResNet50: official module names, static subnets equal to the elastic forward, the
analytic MAC/param counter, official method names. Small inputs keep this quick on 2 cores."""
import json

import numpy as np
import pytest
import torch

from ofa_deploy import count_macs, count_params
from ofa_deploy.arch import ArchBatch, ArchConfig
from ofa_deploy.profile import profile_module
from ofa_deploy.supernets.resnet import R50, OFAResNets, ResNets
from tests.helpers.weights import randomize
from tests.helpers.supernet_checks import loads_back, rebuilt_from_config, reorganize_keeps_function, worst_static_vs_elastic

NAME = "ofa_resnet50"


@pytest.fixture(scope="module")
def net():
    return randomize(OFAResNets(), seed=4)


def test_official_module_names_and_shapes():
    sd = OFAResNets().state_dict()
    shapes = {k: list(v.shape) for k, v in sd.items()}
    assert shapes["input_stem.0.conv.conv.weight"] == [32, 3, 3, 3]
    assert shapes["input_stem.0.bn.bn.running_var"] == [32]
    assert shapes["input_stem.1.conv.conv.conv.weight"] == [32, 32, 3, 3]   # the skippable stem conv
    assert shapes["input_stem.2.conv.conv.weight"] == [64, 32, 3, 3]
    assert shapes["blocks.0.conv1.conv.conv.weight"] == [88, 64, 1, 1]       # mid = 256 × 0.35 → 88
    assert shapes["blocks.0.conv2.conv.conv.weight"] == [88, 88, 3, 3]
    assert shapes["blocks.0.conv3.conv.conv.weight"] == [256, 88, 1, 1]
    assert shapes["blocks.0.downsample.conv.conv.weight"] == [256, 64, 1, 1]
    assert shapes["blocks.4.downsample.conv.conv.weight"] == [512, 256, 1, 1]
    assert shapes["blocks.17.conv3.conv.conv.weight"] == [2048, 720, 1, 1]
    assert shapes["classifier.linear.linear.weight"] == [1000, 2048]
    assert sorted({int(k.split(".")[1]) for k in sd if ".downsample." in k}) == [0, 4, 8, 14]
    assert len(sd) == 368 and "blocks.18.conv1.conv.conv.weight" not in sd
    assert R50.widths == [[168, 208, 256], [336, 408, 512], [664, 816, 1024], [1328, 1640, 2048]]
    assert (R50.stem_mid, R50.stem_out) == ([24, 24, 32], [40, 48, 64])
    sp = R50.space
    assert (sp.n_blocks, sp.n_d, sp.n_w, sp.n_ks) == (18, 5, 6, 0)


def test_official_checkpoint_loads_strictly(tmp_path, net):
    loads_back(net.state_dict(), tmp_path / NAME, "ofa_resnet50", net, 64, OFAResNets)


def test_static_subnet_equals_elastic_forward(net):
    """50 random archs (plus the extremes) at several resolutions: max |Δ| ≤ 1e-5."""
    space = R50.space
    archs = ArchBatch.sample(space, 50, rng=9, resolutions=(128, 136, 144, 160)).to_archs()
    archs += [space.largest(128), space.smallest(128)]
    assert worst_static_vs_elastic(net, archs) <= 1e-5


def test_counter_equals_hooks():
    sup = OFAResNets()
    archs = ArchBatch.sample(R50.space, 4, rng=2, resolutions=(128, 132)).to_archs() + [R50.space.smallest(128)]
    for arch in archs:
        sup.set_arch(arch)
        sub = sup.get_active_subnet(preserve_weight=False)
        assert profile_module(sub, (1, 3, arch.r, arch.r)) == (count_macs(NAME, arch), count_params(NAME, arch))
    big = R50.space.largest(224)
    assert count_params(NAME, big) == sum(p.numel() for p in sup.parameters())  # no transform params here
    batch = ArchBatch.sample(R50.space, 300, rng=0, resolutions=(128, 192, 256))
    one = np.array([count_macs(NAME, a) for a in batch.to_archs()[:20]])
    assert np.array_equal(count_macs(NAME, batch)[:20], one)


def test_official_method_names():
    net = OFAResNets()
    net.set_active_subnet(d=[0, 1, 2, 0, 1], e=0.25, w=[0, 1, 2, 0, 1, 2])
    assert net.input_stem_skipping and net.runtime_depth == [1, 0, 2, 1]  # blocks skipped, official meaning
    assert len(net.active_block_index()) == 3 + 4 + 4 + 3
    assert net.input_stem[2].active_out_channel == 48 and net.blocks[17].active_out_channel == 2048
    cfg = net.sample_active_subnet(rng=0)
    assert set(cfg) == {"d", "e", "w"} and (len(cfg["d"]), len(cfg["e"]), len(cfg["w"])) == (5, 18, 6)
    arch = net.get_active_arch(160).validate(R50.space)
    assert arch.to_official()["w"] == cfg["w"] and ArchConfig.from_dict(arch.to_official()) == arch
    net.set_max_net()
    assert net.get_active_arch() == R50.space.largest()
    net.set_constraint([0.2], "expand_ratio")
    assert set(net.sample_active_subnet(rng=1)["e"]) == {0.2}
    with pytest.raises(ValueError, match="constraint_type"):
        net.set_constraint([3], "kernel_size")


@pytest.mark.parametrize("stem_d", [0, 2])
def test_active_net_config_round_trips(net, stem_d):
    arch = R50.space.sample(rng=stem_d)
    net.set_arch(ArchConfig(arch.ks, arch.e, (stem_d,) + arch.d[1:], arch.r, arch.w))
    sub = net.get_active_subnet()
    cfg = json.loads(json.dumps(net.get_active_net_config()))
    assert cfg["name"] == "ResNets" and len(cfg["input_stem"]) == (3 if stem_d == 2 else 2)
    rebuilt_from_config(cfg, sub, 64, ResNets)


def test_reorganize_keeps_max_net_function():
    net = randomize(OFAResNets(), seed=6)
    reorganize_keeps_function(net, 64)
    w = net.blocks[2].conv3.conv.conv.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(w[:-1] >= w[1:])
