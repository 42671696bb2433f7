"""The export pipeline: log lines, validation, model card and sidecar, bad inputs."""
import json

import pytest
import torch

import ofa_deploy
from ofa_deploy.deploy.base import Artifact, MeasureSettings
from ofa_deploy.deploy.timing import time_callable
from ofa_deploy.errors import UnknownNameError, ValidationError
from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.validate import validate_outputs


def test_export_logs_validates_and_writes_card(tiny_subnet, tmp_path, library_log):
    art = ofa_deploy.export(tiny_subnet, "onnx", tmp_path)
    out = library_log.text
    assert "ONNX: export success ✅" in out and f"saved as '{art.path}'" in out and "MB)" in out
    assert "ONNX: validate success ✅" in out and "max|Δ|" in out
    side = json.loads(art.sidecar.read_text())
    assert side["card"]["supernet"] == "ofa_tiny_d123_e346_k357"
    assert side["card"]["parity"]["max_abs_diff"] <= 1e-4
    assert {"torch", "onnxruntime", "ofa-deploy"} <= set(side["card"]["tools"])
    assert Artifact.load(art.path).card["sha256"] == side["card"]["sha256"]


def test_validation_fails_loudly_when_outputs_differ(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "onnx", tmp_path)
    broken = torch.nn.Sequential(tiny_subnet, torch.nn.Identity())
    with torch.no_grad():
        shifted = lambda x: tiny_subnet(x) + 1e-3
    wrapper = type("Shifted", (torch.nn.Module,), {"forward": lambda self, x: shifted(x)})()
    with pytest.raises(ValidationError, match="logits.*differs from PyTorch.*atol 1e-04"):
        validate_outputs(wrapper, get_backend("onnxruntime"), art)
    assert validate_outputs(broken, get_backend("onnxruntime"), art).ok


def test_unknown_format_suggests_close_names(tiny_subnet, tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'onnx'"):
        ofa_deploy.export(tiny_subnet, "onx", tmp_path)


def test_missing_input_shape_is_explained(tmp_path):
    with pytest.raises(ValueError, match="example_input"):
        ofa_deploy.export(torch.nn.Conv2d(1, 1, 1), "onnx", tmp_path)


def test_int8_without_calibration_is_explained(tiny_subnet, tmp_path):
    with pytest.raises(ValueError, match="calibration"):
        ofa_deploy.export(tiny_subnet, "onnx", tmp_path, precision="int8")


def test_unsupported_precision(tiny_subnet, tmp_path):
    with pytest.raises(ValueError, match="exports"):
        ofa_deploy.export(tiny_subnet, "onnx", tmp_path, precision="int4")


def test_measure_settings_and_timing_loop():
    with pytest.raises(ValueError, match="mode"):
        MeasureSettings(mode="fast")
    s = MeasureSettings(mode="mlperf")
    assert s.runs >= 1024 and s.min_seconds >= 60
    calls = []
    stats = time_callable(lambda: calls.append(1), MeasureSettings(warmup=3, runs=20, min_seconds=0.05,
                                                                       cpu_affinity=(0,)))
    warm = stats.settings["warmup_runs_done"]     # ≥3, more until two warm-up windows agree
    assert warm >= 3 and len(calls) >= 20 + warm and stats.count == len(calls) - warm
    assert stats.min <= stats.median <= stats.p90 <= stats.max and stats.settings["cpu_affinity"] == [0]


def test_benchmark_records_failures_without_stopping(tiny_subnet, tmp_path):
    from ofa_deploy.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="no-such-backend"):   # names are checked before any export
        ofa_deploy.benchmark(tiny_subnet, backends=["onnxruntime", "no-such-backend"], out_dir=tmp_path / "x",
                             progress=False)
    assert not (tmp_path / "x").exists()
    res = ofa_deploy.benchmark(tiny_subnet, backends=["onnxruntime", "openvino"],
                               settings=MeasureSettings(warmup=2, runs=10), out_dir=tmp_path, progress=False)
    status = {r.backend: r.status for r in res.rows}
    assert status["onnxruntime"].startswith("✅") and status["openvino"].startswith("✅")
    ok = [r for r in res.rows if r.ok]
    assert all(r.median_ms > 0 and r.fps > 0 and r.size_mb > 0 and r.spread_pct is not None for r in ok)
    rows = json.loads((tmp_path / "benchmark.json").read_text())
    assert len(rows) == 2 and (tmp_path / "benchmark.csv").read_text().startswith("backend,format,precision")
