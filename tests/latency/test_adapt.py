"""Host fingerprint, adaptation to this host (real ONNX Runtime, tiny space) and its bad inputs."""
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ofa_deploy
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.errors import BadArgumentError, OfaDeployError, UnknownNameError
from ofa_deploy.latency import adapt as adapt_mod
from ofa_deploy.latency import load_latency_table
from ofa_deploy.latency.adapt import HostMismatchWarning, decide, pick_archs
from ofa_deploy.latency.builder import build_table
from ofa_deploy.latency.fingerprint import describe_host, host_fingerprint, table_host

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "backends"))
from adb_fixtures import adb_client, start_device  # noqa: E402,F401  (the real adb client + test device)
TINY_ORT = REPO / "latency_tables" / "ofa_tiny_d123_e346_k357" / "onnxruntime-cpu"
FAST = MeasureSettings(warmup=1, runs=5, min_seconds=0)


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path / "cache"))
    adapt_mod._warned.clear()
    return tmp_path / "cache"


def table_copy(tmp_path, **fp_changes):
    dst = tmp_path / "table"
    shutil.copytree(TINY_ORT, dst)
    prov = json.loads((dst / "provenance.json").read_text())
    prov["fingerprint"] = {**host_fingerprint("onnxruntime"), **fp_changes}
    (dst / "provenance.json").write_text(json.dumps(prov))
    return dst


def test_fingerprint_names_this_cpu():
    fp = host_fingerprint("onnxruntime")
    assert fp["cores"] >= 1 and fp["machine"] and len(fp["id"]) == 12
    assert "onnxruntime" in fp["versions"] and "torch" in fp["versions"]
    assert fp["cpu_model"] in describe_host(fp)


def test_a_table_from_another_host_warns_once_with_the_fix(tmp_path):
    folder = table_copy(tmp_path, cpu_model="Some Other CPU @ 9GHz", isa=["neon"])
    with pytest.warns(HostMismatchWarning, match=r"lut adapt .* --backend onnxruntime") as rec:
        load_latency_table(folder)
    assert "Some Other CPU" in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # the second load stays quiet
        t = load_latency_table(folder)
    assert "Some Other CPU" in table_host(t)


def test_a_table_from_this_host_is_silent(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_latency_table(table_copy(tmp_path))


def test_held_out_score_rejects_a_harmful_calibration():
    table = load_latency_table(TINY_ORT)
    table.calibration = None
    archs = pick_archs(table, 15, seed=0)
    truth = table.op_sum(archs)                 # the plain sum is exactly right here …
    meas = truth.copy()
    perm = np.random.default_rng(0).permutation(15)
    meas[perm[5:]] *= np.linspace(0.3, 3.0, 10)  # … but 10 of the 15 measurements are wildly off:
    cal, report = decide(table, archs, meas, seed=0)   # every fit wins in-sample, none on held-out nets
    assert cal is None and not report["accepted"] and "rejected" in report["verdict"]
    assert report["chosen"] == "sum" and report["folds"] == 5
    assert all(c["held_out"]["mape"] >= report["held_out_sum_of_ops"]["mape"] * 0.95
               for c in report["candidates"].values() if c["eligible"])
    assert report["held_out_sum_of_ops"]["mape"] < report["held_out_calibrated"]["mape"]
    cal, report = decide(table, archs, 1.3 * truth + 0.01, seed=0)     # a real offset is learned
    assert report["accepted"] and cal.a == pytest.approx(1.3, rel=1e-6)


def test_a_correction_that_predicts_a_negative_latency_is_refused():
    """A fit on a few mid-range nets may tilt below zero outside their range: the table's exact
    minimum over the space is checked before a correction is kept."""
    from ofa_deploy.cost import additive_min

    table = load_latency_table(TINY_ORT)
    table.calibration = None
    lo = additive_min(table, table.spec.space, table.resolutions)[0]
    archs = [a for a in pick_archs(table, 60, seed=0) if table.op_sum([a])[0] > 2.5 * lo][:30]
    s = table.op_sum(archs)
    assert len(archs) >= 20
    cal, report = decide(table, archs, 3.0 * s - 6.0 * lo, seed=0)   # exact, yet 3·lo − 6·lo < 0 at the fastest net
    assert cal is None and not report["accepted"] and report["chosen"] == "sum"
    assert "positive" in report["verdict"] and "fastest subnet" in report["verdict"]
    cal, report = decide(table, archs, 3.0 * s - 1.5 * lo, seed=0)   # the same kind of fit, positive everywhere
    assert report["accepted"] and cal is not None


def test_adapt_measures_stores_per_host_and_applies_on_load(tmp_path, user_cache):
    folder = table_copy(tmp_path, cpu_model="Some Other CPU")
    with pytest.warns(HostMismatchWarning):
        table = load_latency_table(folder)
    res = ofa_deploy.adapt_table(table, backend="onnxruntime", n=9, settings=FAST, sessions=1)
    assert res.path.is_relative_to(user_cache) and res.path.exists()
    assert not any(p.name.endswith(".json") and "adapt" in p.name for p in folder.iterdir())  # never in the table
    rep = json.loads(res.path.read_text())
    assert rep["n_fit"] + rep["n_held_out"] == 9 and rep["fingerprint"]["id"] == host_fingerprint()["id"]
    assert rep["candidates"]["linear"]["eligible"] and not rep["candidates"]["memory"]["eligible"]  # 9 < 3 × 5
    journal = res.path.with_name(res.path.name.replace(".json", ".measured.jsonl"))
    assert len(journal.read_text().splitlines()) == 9
    again = load_latency_table(folder)               # applied automatically on this host, no warning
    assert again.provenance["adaptation"]["accepted"] == res.accepted
    assert (again.calibration is None) == (not res.accepted)
    if res.accepted:
        assert again.calibration.a == pytest.approx(res.table.calibration.a)
    assert "adapted here" in table_host(again)


def test_adapt_bad_inputs_fail_before_measuring(tmp_path, user_cache):
    table = load_latency_table(TINY_ORT)
    with pytest.raises(BadArgumentError, match="at least 9"):
        ofa_deploy.adapt_table(table, backend="onnxruntime", n=5)
    with pytest.raises(BadArgumentError, match="measured with backend 'onnxruntime'.*--backend onnxruntime"):
        ofa_deploy.adapt_table(table, backend="openvino", n=9)
    with pytest.raises(UnknownNameError):
        ofa_deploy.adapt_table(table, backend="no-such-runtime", n=9)
    with pytest.raises(BadArgumentError, match="for supernet 'ofa_tiny_d123_e346_k357'"):
        ofa_deploy.adapt_table(table, backend="onnxruntime", n=9, supernet="ofa_mbv3_d234_e346_k357_w1.0")
    assert not user_cache.exists()                   # nothing measured, nothing written


def test_build_refuses_too_few_calibration_nets_before_measuring(tmp_path):
    with pytest.raises(BadArgumentError, match="--calibrate 9"):
        build_table("tiny", "onnxruntime", tmp_path / "t", calibrate=2)
    assert not (tmp_path / "t").exists()


def test_adb_device_that_disappears_mid_adaptation(tmp_path, user_cache, start_device, adb_client):
    folder = REPO / "latency_tables" / "ofa_tiny_d123_e346_k357" / "litert-cpu"
    table = load_latency_table(folder)
    dev = start_device("disconnect")
    s = FAST.with_options(adb_server_port=adb_client.port)
    with pytest.raises(OfaDeployError, match="disconnected mid-run"):
        ofa_deploy.adapt_table(table, backend="tflite", n=9, settings=s, sessions=1, serial=dev.serial)
    assert not list(user_cache.rglob("*[0-9a-f].json"))   # no adaptation stored


def test_benchmark_checks_backend_names_before_any_export(tmp_path):
    import torch

    from ofa_deploy.deploy.benchmark import benchmark

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3))
    with pytest.raises(UnknownNameError):
        benchmark(net, ["onnxruntime", "no-such-runtime"], out_dir=tmp_path / "b", progress=False,
                  example_input=torch.randn(1, 1, 8, 8))
    assert not (tmp_path / "b").exists()


def test_benchmark_flags_a_median_over_budget_and_shows_spread(tmp_path):
    import torch

    from ofa_deploy.deploy.benchmark import benchmark

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3)).eval()
    res = benchmark(net, ["onnxruntime"], settings=FAST, out_dir=tmp_path / "b", progress=False,
                    example_input=torch.randn(1, 1, 8, 8), budget_ms=1e-6, predicted={"onnxruntime": 1e3}, sessions=3)
    row = res.rows[0]
    assert row.status.startswith("✅") and row.spread_pct is not None and row.spread_pct >= 0
    assert row.flag.startswith("⚠") and "over budget" in row.flag and "vs predicted" in row.flag
    assert row.latency["settings"]["sessions"] == 3 and "fresh-session" in row.latency["settings"]["method"]


def test_fingerprint_is_the_same_when_the_process_affinity_is_narrowed():
    """Runtimes that pin threads (OpenVINO) narrow a process's CPU affinity and children inherit it;
    that is still the same host, so no mismatch warning may follow from it."""
    import subprocess
    import sys

    from ofa_deploy.latency.fingerprint import host_fingerprint

    code = ("import os; os.sched_setaffinity(0, {0}); "
            "from ofa_deploy.latency.fingerprint import host_fingerprint; print(host_fingerprint()['id'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == host_fingerprint()["id"]
