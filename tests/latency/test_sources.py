"""Devices, estimated models from the published nets, the official Note10 table over the hub."""
import json

import numpy as np
import pytest
import yaml

import ofa_deploy
from ofa_deploy.errors import UnknownNameError
from ofa_deploy.latency.estimated import fit_device, published_devices
from ofa_deploy.latency.sources import predictor_for_device
from ofa_deploy.supernets.mbv3 import W10, W12, arch_from_net_config
from tests.helpers.http_server import FileServer
from tests.latency.test_format_and_table import write_official_fixture


def test_every_official_device_has_an_estimated_model_with_loo_error():
    assert {"pixel1", "pixel2", "note8", "note10", "s7edge", "LG-G8", "cpu"} <= set(published_devices())
    for dev in published_devices():
        m = fit_device(dev)
        assert m.loo_mape < 10, (dev, m.loo_mape)
        assert m.provenance["source"] == "estimated" and len(m.provenance["fitted_on"]) >= 4


def test_pixel1_estimate_reproduces_published_nets_and_covers_172px(specialized_dir):
    p = ofa_deploy.load_latency_table("pixel1")
    assert p.source == "estimated" and "leave_one_out_mape" in p.provenance
    d = specialized_dir / "pixel1_lat-40ms_top1-74.9_finetune-25"
    arch = arch_from_net_config(json.loads((d / "net.config").read_text()), 172, W10)
    assert arch.r == 172 and abs(p.predict(arch) - 40) / 40 < 0.1
    big, small = W10.space.largest(224), W10.space.smallest(160)
    assert p.predict(big) > p.predict(small) > 0


def test_unknown_device_suggests():
    with pytest.raises(UnknownNameError, match="did you mean 'pixel1'"):
        predictor_for_device("pixle1", W10.name)


def test_official_note10_table_over_loopback(tmp_path, monkeypatch):
    root = tmp_path / "www" / "ofa"
    write_official_fixture(root / "note10", resolutions=(160, 176, 192, 208, 224))
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path / "cache"))
    with FileServer(tmp_path / "www") as srv:
        monkeypatch.setenv("OFA_DEPLOY_HUB_URL", srv.url)
        t = ofa_deploy.load_latency_table("note10")
        assert len(srv.requests) == 5
        ofa_deploy.load_latency_table("note10")
        assert len(srv.requests) == 5  # cached and checksummed, not fetched again
    assert t.source == "official" and t.supernet == W12.name and t.resolutions == (160, 176, 192, 208, 224)
    assert predictor_for_device("note10", W12.name).predict(W12.space.largest(224)) == pytest.approx(
        t.predict(W12.space.largest(224)))
    batch = ofa_deploy.ArchBatch.sample(W12.space, 100, rng=0)
    assert np.all(t.predict(batch) > 0)


def test_note10_offline_falls_back_to_estimate(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path))
    monkeypatch.setenv("OFA_DEPLOY_OFFLINE", "1")
    assert predictor_for_device("note10", W12.name).source == "estimated"
