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
