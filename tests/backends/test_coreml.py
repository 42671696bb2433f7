"""Core ML backend with the real coremltools: convert and save on Linux, check the saved spec,
read the embedded model card back; predict needs macOS and says so."""
import numpy as np
import pytest

import ofa_deploy
from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.base import Artifact, MeasureSettings
from ofa_deploy.errors import BackendUnavailableError, ValidationError
from ofa_deploy.plugins.coreml import spec


@pytest.fixture(scope="module")
def package(tiny_subnet, tmp_path_factory):
    return ofa_deploy.export(tiny_subnet, "mlpackage", tmp_path_factory.mktemp("mlpackage"))


def test_mlpackage_spec_checked_and_card_embedded(package):
    assert package.path.suffix == ".mlpackage" and package.path.is_dir()
    check = package.card["spec_check"]
    assert check["type"] == "mlProgram" and check["input"] == [1, 1, 28, 28] and check["output"] == [1, 10]
    assert check["conv"] == package.extra["torch_layers"]["conv"] == 23 and check["ops"] >= 50
    card = get_backend("coreml").read_card(package.path)
    assert card["supernet"] == "ofa_tiny_d123_e346_k357" and card["format"] == "mlpackage"
    assert card["spec_check"]["conv"] == 23
    assert Artifact.load(package.path).card["precision"] == "fp32"


def test_mlmodel_neural_network_fp16_weights(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "mlmodel", tmp_path, precision="fp16")
    s = spec.load_spec(art.path)
    assert s.WhichOneof("Type") == "neuralNetwork" and art.path.suffix == ".mlmodel"
    convs = [layer.convolution for layer in s.neuralNetwork.layers if layer.WhichOneof("layer") == "convolution"]
    assert convs and all(len(c.weights.float16Value) > 0 and not c.weights.floatValue for c in convs)
    assert get_backend("coreml").read_card(art.path)["precision"] == "fp16"


def test_mlpackage_fp16_compute_and_int8_weights(tiny_subnet, tmp_path):
    fp16 = ofa_deploy.export(tiny_subnet, "mlpackage", tmp_path / "fp16", precision="fp16")
    int8 = ofa_deploy.export(tiny_subnet, "mlpackage", tmp_path / "int8", precision="int8")
    ops16 = spec.describe(fp16.path)["ops"]
    assert ops16["cast"] >= 2                 # fp32 input/output cast around an fp16 program
    ops8 = spec.describe(int8.path)["ops"]
    assert any(op.startswith("constexpr_") for op in ops8)   # int8 weights dequantized at load
    assert int8.size_mb < fp16.size_mb


def test_spec_check_catches_a_wrong_shape(package):
    wrong = Artifact(package.path, "coreml", "mlpackage", input_shape=(1, 3, 28, 28), extra=package.extra)
    with pytest.raises(ValidationError, match="expected one FLOAT32 'input' of shape"):
        get_backend("coreml").validate_artifact(wrong)


def test_run_and_measure_need_macos(package):
    b = get_backend("coreml")
    assert not b.can_run(package)
    with pytest.raises(BackendUnavailableError, match="needs macOS"):
        b.measure(package, MeasureSettings(runs=2, warmup=0))
    with pytest.raises(BackendUnavailableError, match="needs macOS"):
        b.run(package, np.zeros(package.input_shape, np.float32))
