"""Every table we ship under latency_tables/ loads, covers its whole space at every resolution it
names, predicts batch == one by one, and carries its provenance, calibration and evaluate report."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ofa_deploy.arch import ArchBatch
from ofa_deploy.latency import load_latency_table
from ofa_deploy.latency.sources import list_shipped_tables, shipped_table_dir

SHIPPED = list_shipped_tables()
# Tables not yet rebuilt on a fingerprinting builder (their build host was not recorded); strict:
# once one is rebuilt its test passes and this list must shrink.
NOT_REBUILT = {"ofa_mbv3_d234_e346_k357_w1.0/litert-cpu"}


def test_the_tables_the_readme_promises_are_shipped():
    for name in ("ofa_tiny_d123_e346_k357/onnxruntime-cpu", "ofa_tiny_d123_e346_k357/openvino-cpu",
                 "ofa_tiny_d123_e346_k357/litert-cpu", "ofa_mbv3_d234_e346_k357_w1.0/onnxruntime-cpu",
                 "ofa_mbv3_d234_e346_k357_w1.0/openvino-cpu", "ofa_tiny_d123_e346_k357/executorch-cpu",
                 "ofa_mbv3_d234_e346_k357_w1.0/executorch-cpu"):
        assert name in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_table(name):
    table = load_latency_table(name)
    sn, dev = name.split("/")
    prov = table.provenance
    assert table.supernet == sn and table.source == "measured"
    assert prov["device"] == dev and prov["runtime_version"] and prov["settings"]["threads"] >= 1
    if "calibration_check" in prov:   # kept only if it beat the plain sum on held-out nets
        assert (table.calibration is not None) == prov["calibration_check"]["accepted"]
    else:
        assert table.calibration is not None
    assert prov["calibration"]["n_subnets"] >= 20

    space = table.space
    small = [space.smallest(r) for r in table.resolutions]
    large = [space.largest(r) for r in table.resolutions]
    lo, hi = table.predict(small), table.predict(large)
    assert np.all(np.isfinite(lo)) and np.all(lo > 0) and np.all(hi > lo)
    # the largest net is slower at the largest resolution than at the smallest. Neighbouring
    # resolutions are not checked: the tiny space on OpenVINO is so overhead-bound that its table
    # predicts 0.291 / 0.269 ms for the largest net at 28 / 32 px where we measured 0.258 / 0.271
    # (a known gap, in the README)
    assert hi[-1] > hi[0]

    batch = ArchBatch.sample(space, 64, 3, list(table.resolutions))
    together = table.predict(batch)
    one_by_one = [table.predict(a) for a in batch.to_archs()]
    np.testing.assert_allclose(together, one_by_one, rtol=1e-12)

    report = json.loads((shipped_table_dir(sn, dev) / "evaluate.json").read_text())
    cal = report["calibrated"]
    assert cal["n"] >= 40 and 0 <= cal["within_10pct"] <= 100 and cal["spearman"] > 0.8
    assert (shipped_table_dir(sn, dev) / report["plot"]).stat().st_size > 0


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(
    reason="not rebuilt since host fingerprints were added", strict=True)) if n in NOT_REBUILT else n
    for n in SHIPPED])
def test_shipped_table_carries_its_host_fingerprint_and_method(name):
    prov = load_latency_table(name).provenance
    fp = prov["fingerprint"]
    assert fp["id"] and fp["cpu_model"] and fp["cores"] >= 1 and fp["isa"] and fp["versions"]["torch"]
    assert "fresh-session medians" in prov["method"] and prov["settings"]["threads"] == 1
    assert prov["measure_seconds_all_runs"]["ops"] > 0
