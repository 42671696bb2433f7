"""OFA-MobileNetV3: official state_dict, static subnets equal to the elastic forward."""
import copy

import numpy as np
import pytest
import torch

from ofa_deploy import get_supernet
from ofa_deploy.arch import ArchBatch
from ofa_deploy.supernets.mbv3 import TINY, W10, W12, OFAMobileNetV3
from tests.helpers.weights import randomize
from tests.helpers.supernet_checks import reorganize_keeps_function, worst_static_vs_elastic


@pytest.mark.parametrize("spec, fname", [(W10, "ofa_mbv3_w1.0_state_dict_keys.txt"),
                                         (W12, "ofa_mbv3_w1.2_state_dict_keys.txt")])
def test_state_dict_keys_and_shapes_match_official(reference_dir, spec, fname):
    expected = [line.split(" ", 1) for line in (reference_dir / fname).read_text().splitlines() if line]
    ours = [[k, str(list(v.shape))] for k, v in OFAMobileNetV3(spec).state_dict().items()]
    assert len(expected) == 475
    assert ours == expected


def test_parameter_counts_match_official():
    assert sum(p.numel() for p in OFAMobileNetV3(W10).parameters()) == 7_678_880
    assert sum(p.numel() for p in OFAMobileNetV3(W12).parameters()) == 10_715_752


def test_official_checkpoint_loads_strictly(tmp_path):
    src = randomize(OFAMobileNetV3(W10), seed=1)
    ckpt = tmp_path / "ofa_mbv3_d234_e346_k357_w1.0"
    torch.save({"state_dict": src.state_dict(), "epoch": 180}, ckpt)
    net = get_supernet("ofa_mbv3_w1.0", weights=ckpt)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(net(x), src(x))


@pytest.mark.parametrize("spec", [W10, W12, TINY], ids=lambda s: s.name)
def test_static_subnet_equals_elastic_forward(spec):
    """≥50 random archs (plus the extremes) over several resolutions: max |Δ| ≤ 1e-5."""
    net = randomize(OFAMobileNetV3(spec), seed=2)
    space = spec.space
    archs = ArchBatch.sample(space, 50 if spec is not TINY else 60, rng=11,
                             resolutions=range(space.min_resolution, space.max_resolution + 1,
                                               space.resolution_step)).to_archs()
    archs += [space.largest(), space.smallest()]
    if spec is not TINY:  # big spaces: full count at small sizes keeps this test quick
        archs = [a if i % 5 == 0 else type(a)(a.ks, a.e, a.d, min(a.r, 160)) for i, a in enumerate(archs)]
    assert worst_static_vs_elastic(net, archs, spec.in_channels, batch=2) <= 1e-5


def test_subnet_is_torch_exportable_and_static():
    net = randomize(OFAMobileNetV3(W10))
    net.set_arch(W10.space.sample(rng=0))
    sub = net.get_active_subnet()
    x = torch.randn(1, 3, 160, 160)
    ep = torch.export.export(sub, (x,))
    ops = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert any("hardswish" in o for o in ops)  # torch's op, not a python function
    assert not any("slice" in o for o in ops)  # no dynamic slicing left
    with torch.no_grad():
        assert torch.allclose(ep.module()(x), sub(x), atol=1e-6)


def test_set_active_subnet_official_signature():
    net = OFAMobileNetV3(W10)
    net.set_active_subnet(ks=5, e=4, d=2)
    assert net.runtime_depth == [2] * 5
    assert {b.conv.active_kernel_size for b in net.blocks[1:]} == {5}
    cfg = net.sample_active_subnet(rng=0)
    assert set(cfg) == {"ks", "e", "d"} and len(cfg["ks"]) == 20 and len(cfg["d"]) == 5
    net.set_max_net()
    assert net.get_active_arch().d == (4,) * 5
    net.set_constraint([2], "depth")
    assert set(net.sample_active_subnet(rng=1)["d"]) == {2}
    with pytest.raises(ValueError, match="constraint_type"):
        net.set_constraint([2], "width")


def test_active_net_config_round_trips():
    net = randomize(OFAMobileNetV3(W10))
    net.set_arch(W10.space.sample(rng=4))
    sub = net.get_active_subnet()
    rebuilt = type(sub).build_from_config(net.get_active_net_config()).eval()
    rebuilt.load_state_dict(sub.state_dict())
    x = torch.randn(1, 3, 144, 144)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), sub(x))


def test_reorganize_keeps_max_net_function_and_sorts_channels():
    net = randomize(OFAMobileNetV3(W10), seed=5)
    reorganize_keeps_function(net, 128)
    w = net.blocks[3].conv.point_linear.conv.conv.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(w[:-1] >= w[1:])
    net2 = copy.deepcopy(net)
    net2.re_organize_middle_weights(expand_ratio_stage=1)  # ratios 6 and 4 in use: group order kept
    assert np.isfinite(net2.blocks[3].conv.point_linear.conv.conv.weight.sum().item())
