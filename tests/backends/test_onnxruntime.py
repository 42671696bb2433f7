"""ONNX Runtime backend with the real runtime."""
import onnx
import pytest

import ofa_deploy
from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.base import MeasureSettings


def test_fp32_single_file_with_embedded_card(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "onnx", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [art.path.name, art.sidecar.name]  # no .onnx.data
    model = onnx.load(str(art.path))
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == ["logits"]
    card = get_backend("onnxruntime").read_card(art.path)
    assert card["supernet"] == "ofa_tiny_d123_e346_k357" and card["parity"]["max_abs_diff"] <= 1e-4


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precision_reports_parity(tiny_subnet, tmp_path, calib, precision):
    art = ofa_deploy.export(tiny_subnet, "onnx", tmp_path, precision=precision, calibration=calib)
    parity = art.card["parity"]
    assert parity["atol"] is None and parity["max_abs_diff"] < 0.5
    ops = {n.op_type for n in onnx.load(str(art.path)).graph.node}
    assert ("QuantizeLinear" in ops) if precision == "int8" else ("Cast" in ops)


def test_measure_threads_and_version(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "onnx", tmp_path)
    stats = get_backend("onnxruntime").measure(art, MeasureSettings(threads=2, warmup=2, runs=15))
    assert stats.count == 15 and stats.settings["threads"] == 2 and stats.runtime_version
