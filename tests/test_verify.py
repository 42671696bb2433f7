"""Closed-loop get_model on a real runtime: onnxruntime measures the exported winner; a latency table
that is wrong for this host (here: every prediction halved) makes the first pick measure over
budget, and the loop corrects the limit and searches again."""
import json
import tempfile

import numpy as np
import pytest
import torch

import ofa_deploy
from ofa_deploy.errors import OfaDeployError
from ofa_deploy.latency import predictor_for_device
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.verify import VerificationError, VerifyConfig, adaptation_log, measuring_backend, verify_loop

TINY = "ofa_tiny_d123_e346_k357"
DEVICE = "onnxruntime-cpu"


class ScaledTable:
    """A real measured table whose every prediction is multiplied by `factor` (wrong on purpose)."""

    def __init__(self, table, factor):
        self.table, self.factor = table, factor
        self.supernet, self.source, self.provenance = table.supernet, "scaled for a test", {}

    def predict(self, archs):
        return self.factor * np.asarray(self.table.predict(archs))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_measurable_devices():
    assert measuring_backend(DEVICE).name == "onnxruntime"
    assert measuring_backend("pixel1") is None and measuring_backend(None) is None


def test_wrong_table_forces_a_second_round(cache, library_log):
    table = predictor_for_device(DEVICE, TINY)
    largest = get_supernet_record(TINY).space.largest(32)
    budget = round(0.7 * float(table.predict(largest)), 4)
    model = ofa_deploy.get_model(DEVICE, budget, TINY, latency_table=ScaledTable(table, 0.5), pretrained=False,
                                 calib_data=None, progress=False, cache=False, verify=True)
    v = model.card.verification
    assert v["verified"] is True and v["rounds"] >= 2
    first, last = v["history"][0], v["history"][-1]
    assert first["median_ms"] > budget                       # the halved table picked too big a net
    assert last["median_ms"] <= budget and v["median_ms"] == last["median_ms"]
    assert last["limit_ms"] < first["limit_ms"] and v["p90_ms"] >= v["median_ms"] * 0.9
    assert model.card.predicted_latency["ms"] <= last["limit_ms"] and model.arch.short() == last["arch"]
    assert v["method"]["settings"]["runs"] == 100 and v["method"]["sessions"] == 3
    hist = v["history"]                                      # every retry sits strictly inside the last limit
    assert all(b["limit_ms"] < a["limit_ms"] for a, b in zip(hist, hist[1:]))
    assert all("fresh-session medians" in r["method"] and len(r["session_medians_ms"]) == 3 for r in hist)
    said = {r.getMessage() for r in library_log.records}     # one line per round, not the scratch exports
    assert len([m for m in said if m.startswith("verify: round ")]) == len(hist)
    assert not any("ofa_verify_" in m for m in said)
    lines = [json.loads(l) for l in adaptation_log(DEVICE, TINY).read_text().splitlines()]
    assert len(lines) == v["rounds"] and lines[0]["median_ms"] == first["median_ms"]
    assert all(l["backend"] == "onnxruntime" and l["arch"]["r"] for l in lines)


def test_unreachable_budget_names_the_best_measurement(cache):
    table = predictor_for_device(DEVICE, TINY)
    largest = get_supernet_record(TINY).space.largest(32)
    budget = 0.02 * float(table.predict(largest))           # far below anything this host can run
    with pytest.raises(VerificationError) as exc:
        ofa_deploy.get_model(DEVICE, budget, TINY, latency_table=ScaledTable(table, 0.01), pretrained=False,
                             calib_data=None, progress=False, cache=False, verify=True)
    assert exc.value.best_ms > budget and f"{exc.value.best_ms:.3f} ms" in str(exc.value)
    assert "verify=False" in str(exc.value)


def test_failed_export_is_a_clear_error_and_writes_nothing(cache, monkeypatch):
    class Unexportable(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("op aten::frobnicate is not supported")

    monkeypatch.setattr(tempfile, "tempdir", str(cache))
    outcome = type("Outcome", (), {"arch": None, "values": {"latency": 1.0}})()
    from ofa_deploy.deployable import DeployableModel

    build = lambda o: DeployableModel(Unexportable(), {"name": "x"}, None, (1, 3, 8, 8))
    with pytest.raises(VerificationError, match="exporting the searched subnet with onnxruntime failed"):
        verify_loop(1.0, DEVICE, TINY, outcome, build, lambda limit: outcome, VerifyConfig(sessions=1))
    assert not list(cache.glob("ofa_verify_*")) and not adaptation_log(DEVICE, TINY).exists()


def test_verify_on_an_estimated_device_is_refused(cache):
    with pytest.raises(OfaDeployError, match="verify=False"):
        ofa_deploy.get_model("pixel1", 2.0, TINY, pretrained=False, calib_data=None, progress=False, verify=True)
