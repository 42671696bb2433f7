"""ModelCard: one typed, frozen record; its mapping view and JSON form agree and round trip."""
import dataclasses
import json

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
