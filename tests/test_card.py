"""ModelCard: one typed, frozen record; its mapping view and JSON form agree and round trip."""
import dataclasses
import json

import numpy as np
import pytest

from ofa_deploy.card import DRY_RUN, ModelCard, accuracy_record, weights_label
from ofa_deploy.deploy.base import Artifact


def test_mapping_view_json_and_round_trip():
    card = ModelCard(name="n", supernet="tiny", resolution=32, predicted_latency={"ms": 1.5},
                     extra={"parity": {"ok": True}})
    assert card["predicted_latency"]["ms"] == 1.5 and card["parity"] == {"ok": True}
    assert "published_alternative" not in card and card.get("published_alternative") is None
    with pytest.raises(KeyError):
        card["macs"]
    d = card.to_dict()
    assert "macs" not in d and d["parity"] == {"ok": True} and dict(card) == d
    assert ModelCard.from_dict(json.loads(json.dumps(d))) == card
    with pytest.raises(dataclasses.FrozenInstanceError):
        card.name = "m"


def test_old_preprocess_key_and_unknown_keys_are_kept():
    card = ModelCard.from_dict({"name": "x", "preprocess": {"mean": [0.5]}, "custom": 3})
    assert card.preprocessing == {"mean": [0.5]} and card["custom"] == 3
    assert card.updated(custom=4, macs=1.0)["custom"] == 4 and card.updated(macs=1.0).macs == 1.0


def test_export_facts_are_added_once(tmp_path):
    f = tmp_path / "m.onnx"
    f.write_bytes(b"abc")
    art = Artifact(f, "onnxruntime", "onnx", input_shape=(1, 3, 32, 32))
    card = ModelCard(name="n").exported(art, {"onnxruntime": "1"}, {"parity": {"max_abs_diff": 0.0}})
    assert card.format == "onnx" and card.input_shape == [1, 3, 32, 32] and card.tools["onnxruntime"] == "1"
    assert card.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert card["parity"] == {"max_abs_diff": 0.0}


def test_dry_run_and_proxy_are_said():
    assert weights_label(None, False, "asset") == (DRY_RUN, True)
    assert weights_label(None, True, "asset") == ("asset", False)
    assert accuracy_record(0.7, {"source": "proxy", "proxy_for": "w1.0"})["proxy"] is True
    assert "proxy" not in accuracy_record(0.7, {"source": "trained", "is_accuracy": True})
    assert accuracy_record(None, {}) is None


def test_card_preprocessing_is_at_the_archs_resolution_and_reaches_the_sidecar(tmp_path):
    from ofa_deploy.arch import ArchConfig
    from ofa_deploy.deploy.export import export
    from ofa_deploy.preprocess import Preprocessing, create_transform
    from ofa_deploy.zoo import get_model

    model = get_model("onnxruntime-cpu", None, "tiny", arch=ArchConfig.parse("r24-d122-k733533337-e664646333"),
                      progress=False, verify=False)
    pre = model.card.preprocessing
    assert (pre["size"], pre["resize_size"], pre["input_shape"]) == (24, 24, [1, 1, 24, 24])   # not the space's 32
    assert (pre["resize"], pre["channels"], pre["layout"]) == ("bilinear", 1, "NCHW")
    art = export(model, "accel", tmp_path / "e", validate=False)
    side = json.loads(art.sidecar.read_text())
    assert Preprocessing.from_dict(side["card"]["preprocessing"]) == Preprocessing.from_dict(pre)
    assert create_transform(side["card"]["preprocessing"])(np.zeros((28, 28), np.uint8)).shape == (1, 1, 24, 24)


def test_artifact_load_reads_accel_sidecars_and_follows_a_moved_folder(tmp_path):
    import shutil

    from ofa_deploy.deploy.export import export
    from ofa_deploy.errors import FileFormatError
    from ofa_deploy.zoo import get_model

    model = get_model("onnxruntime-cpu", 0.2, "tiny", progress=False, verify=False)
    acc = export(model, "accel", tmp_path / "e", validate=False)      # the artifact is itself model.accel.json
    ort = export(model, "onnx", tmp_path / "e")
    assert acc.path.name.endswith(".accel.json")
    for given in (acc.path, acc.sidecar):                               # the artifact or its sidecar
        back = Artifact.load(given)
        assert (back.backend, back.format, back.path, back.extra["accel"]) == ("accel", "accel", acc.path,
                                                                             acc.extra["accel"])
    shutil.move(tmp_path / "e", tmp_path / "moved")
    for art in (acc, ort):
        back = Artifact.load(tmp_path / "moved" / art.path.name)
        assert back.path == tmp_path / "moved" / art.path.name and back.path.is_file()
        assert back.card["preprocessing"]["size"] == model.input_shape[-1]
    (tmp_path / "layers.json").write_text('{"layers": []}')            # JSON, but no sidecar
    with pytest.raises(FileFormatError, match="not an artifact sidecar"):
        Artifact.load(tmp_path / "layers.json")


def test_card_keeps_the_requested_budget_when_verify_searched_tighter():
    from ofa_deploy.arch import ArchConfig
    from ofa_deploy.card import subnet_card
    from ofa_deploy.registry import get_supernet_record
    from ofa_deploy.zoo import SearchOutcome

    arch = ArchConfig.parse("r28-d122-k733533337-e664646333")
    outcome = SearchOutcome(arch, 0.9, {"latency": 0.13}, {"latency": 0.139}, {"device": "onnxruntime-cpu"},
                            {"source": "trained"}, {"seed": 0})
    card = subnet_card(get_supernet_record("tiny"), "onnxruntime-cpu", 0.2, arch, outcome, "bn", None, True)
    assert card.constraints == {"latency": 0.2}               # what benchmark flags "over budget" against
    assert card.search["limits"] == {"latency": 0.139} and card.preprocessing["size"] == 28
