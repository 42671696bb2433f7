"""OpenVINO backend with the real runtime (explicit f32 precision hint)."""
import pytest

import ofa_deploy
from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.base import MeasureSettings


def test_fp32_ir_parity_and_rt_info_card(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "openvino", tmp_path)
    assert art.path.suffix == ".xml" and art.path.with_suffix(".bin").exists()
    assert art.card["parity"]["max_abs_diff"] <= 1e-4
    assert get_backend("openvino").read_card(art.path)["precision"] == "fp32"
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precision(tiny_subnet, tmp_path, calib, precision):
    art = ofa_deploy.export(tiny_subnet, "openvino", tmp_path, precision=precision, calibration=calib)
    assert art.card["parity"]["atol"] is None and art.card["parity"]["max_abs_diff"] < 0.5


def test_measure(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "openvino", tmp_path)
    stats = get_backend("openvino").measure(art, MeasureSettings(warmup=2, runs=10))
    assert stats.runtime == "openvino-cpu" and stats.median > 0


TELEMETRY_PROBE = """
import sys, torch
import ofa_deploy
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU()).eval()
calib = [torch.randn(4, 1, 12, 12) for _ in range(2)]
for precision in ("fp32", "int8"):
    ofa_deploy.export(net, "openvino", sys.argv[1] + "/" + precision, precision=precision, calibration=calib,
                      example_input=torch.randn(1, 1, 12, 12))
"""


def test_export_sends_no_telemetry_and_writes_no_consent_file(tmp_path):
    """A fresh machine has no OpenVINO consent file; the converter and NNCF would then count it as
    consent and create ~/intel. Our exports must leave the user's home untouched (run in a fresh
    process, not under pytest, which NNCF itself treats as 'no telemetry')."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    subprocess.run([sys.executable, "-c", TELEMETRY_PROBE, str(tmp_path / "out")], env=env, check=True,
                   timeout=300, capture_output=True)
    assert (tmp_path / "out" / "int8").is_dir()
    assert not (home / "intel").exists(), sorted(p.name for p in home.rglob("*"))
