"""TFLite backend with the real converters (litert-torch, ai-edge-quantizer) and runtime (ai-edge-litert)."""
import pytest
import torch

import ofa_deploy
from ofa_deploy import get_supernet
from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.errors import BackendUnavailableError
from ofa_deploy.plugins.tflite import TFLiteBackend
from ofa_deploy.plugins.tflite.metadata import read_card, write_card


@pytest.fixture(scope="module")
def tflite_fp32(tiny_subnet, tmp_path_factory):
    return ofa_deploy.export(tiny_subnet, "tflite", tmp_path_factory.mktemp("tfl"))


def test_fp32_parity_and_card_in_metadata(tflite_fp32):
    card = get_backend("tflite").read_card(tflite_fp32.path)
    assert card["supernet"] == "ofa_tiny_d123_e346_k357" and card["precision"] == "fp32"
    assert card["parity"]["max_abs_diff"] <= 1e-4 and card["parity"]["top1_agreement"] == 1.0
    assert {"ai-edge-litert", "litert-torch"} <= set(card["tools"])
    assert tflite_fp32.sidecar.exists() and tflite_fp32.extra["layout"] == "NCHW"


def test_metadata_round_trip_replaces_and_keeps_model_runnable(tflite_fp32, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(tflite_fp32.path.read_bytes())
    write_card(path, {"a": 1})
    write_card(path, {"b": [1, 2], "name": "é"})
    assert read_card(path) == {"b": [1, 2], "name": "é"}
    assert read_card(path, key="other") == {}
    x = torch.randn(2, 1, 28, 28).numpy()
    art = type(tflite_fp32)(path, "tflite", "tflite", input_shape=(1, 1, 28, 28))
    assert abs(get_backend("tflite").run(art, x) - get_backend("tflite").run(tflite_fp32, x)).max() == 0


def test_w10_subnet_at_128px_fp32_parity(tmp_path):
    torch.manual_seed(0)
    net = get_supernet("ofa_mbv3_d234_e346_k357_w1.0")
    net.set_arch(net.space.sample(rng=0, resolutions=(128,)))
    sub = net.get_active_subnet().eval()
    art = ofa_deploy.export(sub, "tflite", tmp_path, example_input=torch.randn(1, 3, 128, 128), name="w10")
    assert art.card["parity"]["max_abs_diff"] <= 1e-4 and art.input_shape == (1, 3, 128, 128)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precision_reports_parity(tiny_subnet, tmp_path, calib, tflite_fp32, precision):
    art = ofa_deploy.export(tiny_subnet, "tflite", tmp_path, precision=precision, calibration=calib)
    parity = art.card["parity"]
    assert parity["atol"] is None and parity["max_abs_diff"] < 0.05 and parity["top1_agreement"] >= 0.75
    assert art.path.stat().st_size < 0.6 * tflite_fp32.path.stat().st_size   # weights really shrank
    details = get_backend("tflite").local_model(art).input
    assert str(details["dtype"].__name__) == ("int8" if precision == "int8" else "float32")


def test_int8_without_calibration_says_what_to_pass(tiny_subnet, tmp_path):
    # the export pipeline checks this before any conversion (deploy/export.py), in its own words
    with pytest.raises(ValueError, match="int8 export needs calibration data: pass calibration="):
        ofa_deploy.export(tiny_subnet, "tflite", tmp_path, precision="int8")


def test_local_measure_threads_and_version(tflite_fp32):
    stats = get_backend("tflite").measure(tflite_fp32, MeasureSettings(threads=2, warmup=2, runs=15))
    assert stats.count == 15 and stats.settings["threads"] == 2 and stats.min > 0
    assert stats.runtime == "tflite-xnnpack" and stats.runtime_version


def test_missing_runtime_names_the_install_command():
    class Missing(TFLiteBackend):
        modules = ("ai_edge_litert_not_here",)

    with pytest.raises(BackendUnavailableError, match=r"pip install 'ofa-deploy\[tflite\]'"):
        Missing().check()
