"""The `ofa-deploy` command line, run as a real subprocess: JSON round trips and exit codes."""
import json
import subprocess
import sys

import pytest
import torch

from ofa_deploy.zoo import load_model

CLI = [sys.executable, "-m", "ofa_deploy.cli"]


def run(*args, ok=True):
    out = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600)
    if ok:
        assert out.returncode == 0, out.stderr[-2000:]
    return out


def test_help_everywhere():
    for verb in ("models", "devices", "backends", "get", "search", "predict", "export", "benchmark", "lut", "train",
                 "demo"):
        out = run(verb, "--help")
        assert "usage: ofa-deploy " + verb in out.stdout


def test_listing_verbs_as_json():
    models = json.loads(run("models", "*pixel1*", "--json").stdout)
    assert models["status"] == "ok" and len(models["models"]) == 7
    assert all(m["device"] == "pixel1" for m in models["models"])
    devices = json.loads(run("devices", "--json").stdout)["devices"]
    assert {"pixel1", "note10", "onnxruntime-cpu"} <= {d["name"] for d in devices}
    backends = {b["name"]: b for b in json.loads(run("backends", "--json").stdout)["backends"]}
    assert {"onnxruntime", "openvino", "tflite", "coreml", "tvm"} <= set(backends)
    assert backends["onnxruntime"]["available"] is True


def test_bad_input_exits_2_with_a_suggestion():
    out = run("get", "--device", "pixle1", "--latency", "40", ok=False)
    assert out.returncode == 2 and "did you mean 'pixel1'" in out.stderr
    out = run("search", "--supernet", "tiny", "--macs", "1e3", "--accuracy-predictor", "macs", ok=False)
    assert out.returncode == 2 and "infeasible" in out.stderr and "MACs" in out.stderr
    assert run("models", "nothing-matches-this*", ok=False).returncode == 2


def test_search_get_export_benchmark_round_trip(tmp_path):
    res = json.loads(run("search", "--supernet", "tiny", "--device", "pixel1", "--latency", "1.5",
                         "--accuracy-predictor", "macs", "--generations", "60", "--json").stdout)
    assert res["values"]["latency"] <= 1.5
    out = tmp_path / "m"
    got = json.loads(run("get", "--device", "pixel1", "--latency", "1.5", "--supernet", "tiny", "--no-pretrained",
                         "--accuracy-predictor", "macs", "--export", "onnx", "--out", out, "--json").stdout)
    assert got["predicted_latency_ms"] <= 1.5 and got["exports"]["onnx"].endswith(".onnx")
    assert got["arch"] == load_model(out / "model.pth").card["arch_short"]
    exp = json.loads(run("export", out / "model.pth", "-f", "openvino", "--out", tmp_path / "e", "--json").stdout)
    assert exp["status"] == "ok" and exp["exports"][0]["status"] == "ok" and exp["exports"][0]["max_abs_diff"] < 1e-4
    rows = json.loads(run("benchmark", out / "model.pth", "--backends", "onnxruntime,accel", "--runs", "5",
                          "--warmup", "1", "--out", tmp_path / "b", "--json").stdout)["results"]
    status = {r["backend"]: r["status"] for r in rows}
    assert status == {"onnxruntime": "ok", "accel": "estimated"}   # one status vocabulary in JSON
    bad = run("benchmark", out / "model.pth", "--backends", "onnxruntime,nosuchbackend", ok=False)
    assert bad.returncode == 2 and "unknown backend 'nosuchbackend'" in bad.stderr   # before any work
    assert (tmp_path / "b" / "benchmark.csv").exists()


def test_pareto_from_the_cli(tmp_path):
    res = json.loads(run("search", "--supernet", "tiny", "--device", "pixel1", "--pareto", "1.2", "1.6", "2.5",
                         "--accuracy-predictor", "macs", "--generations", "40", "--plot", tmp_path / "f.png",
                         "--json").stdout)
    scores = [p["score"] for p in res["points"]]
    assert scores == sorted(scores) and (tmp_path / "f.png").stat().st_size > 1000


def test_saved_model_is_loadable_by_torch_alone(tmp_path):
    run("get", "--device", "pixel1", "--latency", "2", "--supernet", "tiny", "--no-pretrained",
        "--accuracy-predictor", "macs", "--out", tmp_path)
    obj = torch.load(tmp_path / "model.pth", weights_only=True)
    assert {"net_config", "state_dict", "card"} <= set(obj)
    with pytest.raises(Exception):
        load_model(tmp_path / "card.json")
