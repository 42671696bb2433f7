"""The demo path, as `make demo` runs it: embedded weights, a budget that bites, every export,
benchmark with predicted and measured latency, the Pareto plot — all under one folder, offline."""
import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo_out"
    env_offline = {"OFA_DEPLOY_OFFLINE": "1"}
    import os

    proc = subprocess.run([sys.executable, "-m", "ofa_deploy.cli", "demo", "--out", str(out), "--runs", "20"],
                          capture_output=True, text=True, timeout=1200, env={**os.environ, **env_offline})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout, json.loads((out / "summary.json").read_text())


def test_budget_bites_and_is_met(demo):
    _, _, s = demo
    lo, hi = s["range_ms"]
    assert lo < s["budget_ms"] < hi                      # the largest subnets do not fit
    assert s["predicted_latency_ms"] <= s["budget_ms"]


def test_real_accuracy_is_measured_and_near_the_prediction(demo):
    _, _, s = demo
    assert s["measured_top1"] > 0.8                      # Fashion-MNIST test set, 10 classes
    assert abs(s["measured_top1"] - s["predicted_top1"]) < 0.03


def test_every_format_is_exported_and_the_runnable_ones_measured(demo):
    out, stdout, s = demo
    rows = {r["backend"]: r for r in s["benchmark"]}
    assert {"onnxruntime", "openvino", "tflite", "coreml", "tvm", "executorch"} <= set(rows)
    for name in ("onnxruntime", "openvino", "tflite", "tvm", "executorch"):
        assert rows[name]["status"].startswith("✅"), rows[name]
        assert rows[name]["median_ms"] > 0 and rows[name]["max_abs_diff"] < 1e-4
    assert rows["coreml"]["status"].startswith("➖") and "macOS" in rows["coreml"]["status"]
    for name in ("onnxruntime", "openvino", "tflite"):   # measured tables ship for these three
        assert abs(rows[name]["predicted_ms"] - rows[name]["median_ms"]) / rows[name]["median_ms"] < 0.5
    assert any(p.suffix == ".mlmodel" or p.suffix == ".mlpackage" for p in (out / "exports").rglob("*"))
    assert any(p.suffix == ".tflite" for p in (out / "exports").rglob("*"))
    assert any(p.suffix == ".pte" for p in (out / "exports").rglob("*"))
    assert str(out) in stdout                            # it names the folder at the end


def test_front_is_plotted_and_monotone(demo):
    out, _, s = demo
    tops = [p["top1"] for p in s["front"]]
    assert tops == sorted(tops)
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
