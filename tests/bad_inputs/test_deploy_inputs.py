"""Bad inputs on the deploy paths other than export: running an artifact, benchmarking, calibrating
and timing — a wrong channel count, size or rank is refused by name before any work, not deep
inside torch or a runtime; a request that would measure nothing is refused."""
import numpy as np
import pytest
import torch

from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.errors import BadArgumentError

TINY = "ofa_tiny_d123_e346_k357"


@pytest.fixture(scope="module")
def tiny_model():
    from ofa_deploy.zoo import get_model

    return get_model(supernet=TINY, macs=1e7, progress=False, verify=False, calib_data=None)


@pytest.fixture(scope="module")
def onnx_artifact(tiny_model, tmp_path_factory):
    from ofa_deploy.deploy.export import export

    return export(tiny_model, "onnx", tmp_path_factory.mktemp("onnx"))


def _size(model):
    return tuple(model.input_shape[2:])


def test_running_an_artifact_with_the_right_input_works_and_takes_tensors(onnx_artifact, tiny_model):
    out = get_backend("onnxruntime").run(onnx_artifact, torch.randn(1, 1, *_size(tiny_model)))
    assert np.asarray(out).shape == (1, 10)


@pytest.mark.parametrize("shape,needle", [
    ((1, 3, None), "inputs has 3 channels but the model takes 1"),
    ((1, 1, 20), "inputs is 20×20 px but the model was exported for"),
])
def test_running_an_artifact_with_wrong_channels_or_size(onnx_artifact, tiny_model, shape, needle):
    n, c, s = shape
    x = np.zeros((n, c, *(_size(tiny_model) if s is None else (s, s))), np.float32)
    with pytest.raises(BadArgumentError, match=needle):
        get_backend("onnxruntime").run(onnx_artifact, x)


def test_running_an_artifact_with_an_input_of_wrong_rank(onnx_artifact):
    with pytest.raises(BadArgumentError, match="4-D NCHW"):
        get_backend("onnxruntime").run(onnx_artifact, np.zeros((3, 3), np.float32))


@pytest.mark.parametrize("name", ["onnxruntime", "openvino", "tflite", "executorch", "tvm", "coreml", "accel"])
def test_every_plugin_run_checks_its_inputs(name):
    assert getattr(type(get_backend(name, check=False)).run, "checked", False)


def test_benchmark_with_wrong_channel_example_input_fails_once_before_exporting(tiny_model, tmp_path):
    from ofa_deploy.deploy.benchmark import benchmark

    with pytest.raises(BadArgumentError, match="example_input has 3 channels but the model takes 1"):
        benchmark(tiny_model, ["onnxruntime"], example_input=torch.randn(1, 3, 28, 28), out_dir=tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_calibration_with_wrong_channels_is_refused_on_export_and_benchmark(tiny_model, tmp_path):
    from ofa_deploy.deploy.benchmark import benchmark
    from ofa_deploy.deploy.export import export

    calib = [torch.randn(4, 3, 28, 28)]
    with pytest.raises(BadArgumentError, match="calibration has 3 channels"):
        export(tiny_model, "onnx", tmp_path / "e", precision="int8", calibration=calib)
    with pytest.raises(BadArgumentError, match="calibration has 3 channels"):
        benchmark(tiny_model, ["onnxruntime"], precisions=["int8"], calibration=calib, out_dir=tmp_path / "b")
    assert not (tmp_path / "e").exists() and not (tmp_path / "b").exists()


def test_calibration_list_holding_something_else(tiny_model, tmp_path):
    from ofa_deploy.deploy.export import export

    with pytest.raises(BadArgumentError, match=r"calibration\[0\] is a str"):
        export(tiny_model, "onnx", tmp_path / "e", precision="int8", calibration=["images/"])


def test_benchmark_of_only_backends_that_cannot_time_here(tiny_model, tmp_path):
    from ofa_deploy.deploy.benchmark import benchmark

    assert get_backend("coreml", check=False).measures == "macOS only"   # CI runs on Linux
    with pytest.raises(BadArgumentError, match=r"coreml \(macOS only\) cannot time models on this host"):
        benchmark(tiny_model, ["coreml"], out_dir=tmp_path / "b")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1])
def test_min_seconds_not_a_finite_non_negative_number(value):
    with pytest.raises(BadArgumentError, match="min_seconds"):   # NaN used to time forever
        MeasureSettings(min_seconds=value)


@pytest.mark.parametrize("text", ["unknown backend 'tf'; did you mean 'tflite'? Known backends: accel, coreml, "
                                  "executorch, onnxruntime, openvino, tflite, tvm. Install a plugin", "x" * 300])
def test_long_error_text_in_a_table_cell_is_cut_at_a_word_not_mid_word(text):
    from ofa_deploy.deploy.benchmark import clip

    out = clip(text, 60)
    assert len(out) <= 60 and out.endswith("…")
    words = text.split()
    assert " " not in text or out[:-2].split()[-1] in words   # the last word kept is whole


def test_int8_export_without_calibration_is_refused_before_any_work(tiny_model, tmp_path):
    from ofa_deploy.deploy.export import export

    with pytest.raises(BadArgumentError, match="int8 export needs calibration data: pass calibration="):
        export(tiny_model, "onnx", tmp_path / "e", precision="int8")
    assert not (tmp_path / "e").exists()
