"""Accelerator cost model: an estimate, labelled as one; sane under bigger nets and slower DRAM;
per-layer figures add up; works per op for the latency-table builder."""
import pytest
import torch

import ofa_deploy
from ofa_deploy import get_supernet
from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.errors import BackendUnavailableError
from ofa_deploy.latency.measure import Measurer
from ofa_deploy.plugins.accel import estimate, get_accelerator, list_accelerators
from ofa_deploy.plugins.shared import OptionError, trace_layers
from ofa_deploy.profile import profile_module
from ofa_deploy.supernets.mbv3 import TINY


@pytest.fixture(scope="module")
def subnets():
    """The smallest, a sampled and the largest tiny-space subnet, as layer lists."""
    torch.manual_seed(0)
    net = get_supernet("tiny")
    out = {}
    for label, arch in [("small", TINY.space.smallest(28)), ("mid", TINY.space.sample(rng=3, resolutions=(28,))),
                        ("large", TINY.space.largest(28))]:
        net.set_arch(arch)
        sub = net.get_active_subnet().eval()
        out[label] = (sub, trace_layers(sub, torch.randn(1, 1, 28, 28)))
    return out


def test_named_accelerators_are_listed_with_sources():
    names = {c.name: c for c in list_accelerators()}
    assert {"eyeriss", "edgetpu"} <= set(names)
    assert (names["eyeriss"].rows, names["eyeriss"].cols, names["eyeriss"].clock_mhz) == (12, 14, 200)
    assert "ISSCC 2016" in names["eyeriss"].source and "4 TOPS" in names["edgetpu"].source


def test_export_and_measure_are_labelled_estimates(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "accel", tmp_path, accel="edgetpu")
    assert art.card["spec_check"]["estimate"] and art.path.name.endswith(".accel.json")
    stats = get_backend("accel").measure(art, MeasureSettings())
    assert stats.runtime == "accel-model" and stats.settings["estimate"] is True and stats.count == 1
    assert stats.device == "edgetpu (estimate)" and stats.settings["model"].startswith("systolic-roofline")
    eyeriss = get_backend("accel").measure(art, MeasureSettings(options={"accel": "eyeriss"}))
    assert eyeriss.median > stats.median   # 168 PEs at 200 MHz vs 4096 at 480 MHz
    with pytest.raises(BackendUnavailableError, match="computes no outputs"):
        get_backend("accel").run(art, torch.zeros(1, 1, 28, 28).numpy())


@pytest.mark.parametrize("accel", ["eyeriss", "edgetpu"])
def test_bigger_subnet_costs_more_cycles(subnets, accel):
    cfg = get_accelerator(accel)
    cycles = [estimate(subnets[k][1], cfg)["cycles"] for k in ("small", "mid", "large")]
    assert cycles[0] < cycles[1] < cycles[2]


@pytest.mark.parametrize("accel", ["eyeriss", "edgetpu", {"base": "eyeriss", "buffer_kb": 8}])
def test_halving_dram_bandwidth_never_speeds_up(subnets, accel):
    cfg = get_accelerator(accel)
    half = get_accelerator({"base": cfg.name.rstrip("*"), **cfg.to_dict(), "dram_gbps": cfg.dram_gbps / 2})
    for _, layers in subnets.values():
        full, slow = estimate(layers, cfg), estimate(layers, half)
        assert slow["cycles"] >= full["cycles"]
        assert all(s["cycles"] >= f["cycles"] for s, f in zip(slow["layers"], full["layers"]))
    tight = estimate(subnets["large"][1], get_accelerator({"base": "eyeriss", "buffer_kb": 8, "dram_gbps": 0.1}))
    assert tight["memory_bound_layers"] > estimate(subnets["large"][1], get_accelerator("eyeriss"))["memory_bound_layers"]


def test_per_layer_breakdown_adds_up(subnets):
    sub, layers = subnets["mid"]
    est = estimate(layers, get_accelerator("eyeriss"))
    assert sum(r["cycles"] for r in est["layers"]) == est["cycles"]
    assert sum(r["ms"] for r in est["layers"]) == pytest.approx(est["latency_ms"])
    assert sum(r["dram_bytes"] for r in est["layers"]) == est["dram_bytes"]
    assert est["macs"] == profile_module(sub, (1, 1, 28, 28))[0]
    assert all(r["cycles"] == max(r["compute_cycles"], r["memory_cycles"]) for r in est["layers"])


def test_single_ops_through_the_table_measurer():
    m = Measurer("accel", MeasureSettings(options={"accel": "eyeriss"}))
    ops = TINY.arch_ops(TINY.space.sample(rng=5, resolutions=(28,)))
    kinds = set()
    for op in ops:
        stats = m.op(op)
        assert stats.settings["estimate"] and stats.median > 0
        h, w, c = op.in_shape
        assert sum(layer["macs"] for layer in trace_layers(op.build(), torch.randn(1, c, h, w))) == op.macs
        kinds.add(op.kind)
    assert {"Conv", "expanded_conv", "AvgPool2D", "Logits"} <= kinds


def test_bad_accelerator_configs_say_what_is_expected():
    with pytest.raises(OptionError, match="unknown accelerator 'tpu'.*eyeriss"):
        get_accelerator("tpu")
    with pytest.raises(OptionError, match="dataflow 'row_stationary' is not modelled"):
        get_accelerator({"base": "eyeriss", "dataflow": "row_stationary"})
    with pytest.raises(OptionError, match="incomplete or has unknown fields"):
        get_accelerator({"rows": 8})
    with pytest.raises(OptionError, match="dram_gbps must be > 0"):
        get_accelerator({"base": "edgetpu", "dram_gbps": 0})
