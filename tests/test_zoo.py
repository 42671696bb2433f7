"""get_model end to end (weights and predictor from a local hub), published nets, names, save/load."""
import dataclasses
import json

import numpy as np
import pytest
import torch

import ofa_deploy
from ofa_deploy.errors import UnknownNameError, WeightsUnavailableError
from ofa_deploy.latency import predictor_for_device
from ofa_deploy.profile import count_macs
from ofa_deploy.registry import SPECIALIZED
from ofa_deploy.supernets.dynamic import DynamicMBConvLayer
from ofa_deploy.zoo import load_model, save_model
from tests.helpers.http_server import FileServer

W10 = "ofa_mbv3_d234_e346_k357_w1.0"


@pytest.fixture(scope="module")
def local_hub(tmp_path_factory):
    """The official file layout on a real HTTP server: w1.0 weights and the w1.2 accuracy predictor."""
    root = tmp_path_factory.mktemp("www")
    (root / "ofa" / "ofa_nets").mkdir(parents=True)
    torch.manual_seed(0)
    net = ofa_deploy.get_supernet(W10)
    for m in net.modules():  # non-trivial BN statistics, so a wrong copy shows in the outputs
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    torch.save({"state_dict": net.state_dict()}, root / "ofa" / "ofa_nets" / W10)
    mlp = torch.nn.Sequential(torch.nn.Linear(128, 400), torch.nn.ReLU(), torch.nn.Linear(400, 400), torch.nn.ReLU(),
                              torch.nn.Linear(400, 400), torch.nn.ReLU(), torch.nn.Linear(400, 1))
    torch.save(mlp.state_dict(), root / "ofa" / "acc_predictor.pth")
    with FileServer(root) as srv:
        yield srv, net


@pytest.fixture
def hub_env(local_hub, tmp_path, monkeypatch):
    srv, net = local_hub
    monkeypatch.setenv("OFA_DEPLOY_HUB_URL", srv.url)
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OFA_DEPLOY_OFFLINE", raising=False)
    return net


def test_get_model_pixel1_40ms_end_to_end(hub_env, tmp_path):
    net = hub_env
    model = ofa_deploy.get_model(device="pixel1", latency=40, progress=False)
    card = model.card
    # a static network: no elastic layers left, exportable
    assert not any(isinstance(m, DynamicMBConvLayer) for m in model.modules())
    assert model.input_shape == (1, 3, model.arch.r, model.arch.r) and not model.training
    # its predicted latency meets the budget and says where it comes from
    lat = card["predicted_latency"]
    assert lat["ms"] <= 40 and lat["source"] == "estimated" and lat["device"] == "pixel1"
    assert lat["ms"] == pytest.approx(predictor_for_device("pixel1", W10).predict(model.arch))
    # accuracy comes from the w1.2 predictor, labelled as a proxy for w1.0
    acc = card["predicted_accuracy"]
    assert acc["source"] == "proxy" and 0 < len(acc["note"]) and acc["proxy"] is True   # w1.2 predictor on w1.0
    assert card["weights"] != "random (dry run)" and card["dry_run"] is False
    assert card["macs"] == pytest.approx(count_macs(W10, model.arch))
    # the weights are the supernet's: same outputs as the supernet's active subnet
    net.set_arch(model.arch)
    x = torch.randn(2, *model.input_shape[1:])
    with torch.no_grad():
        assert (model(x) - net.eval()(x)).abs().max() < 1e-5
    art = model.export("onnx", tmp_path / "exp")
    assert json.loads(art.path.with_name(art.path.name + ".json").read_text())["card"]["arch"] == model.arch.to_dict()


def test_published_alternative_is_offered_and_taken(hub_env, library_log):
    model = ofa_deploy.get_model(device="pixel1", latency=40, progress=False)
    alt = model.card["published_alternative"]  # the random predictor scores far below 74.9 %
    assert alt["name"] == "pixel1_lat@40ms_top1@74.9_finetune@25"
    assert "pixel1_lat@40ms_top1@74.9_finetune@25" in library_log.text
    pub = ofa_deploy.get_model(device="pixel1", latency=40, prefer_published=True, pretrained=False, progress=False)
    assert pub.card["kind"] == "published" and pub.input_shape == (1, 3, 172, 172)


def test_published_net_builds_from_its_net_config(specialized_dir):
    name = "pixel1_lat@40ms_top1@74.9_finetune@25"
    model = ofa_deploy.get_model(name, pretrained=False)
    cfg = json.loads((specialized_dir / name.replace("@", "-") / "net.config").read_text())
    def shape(blocks):  # the published file uses the legacy names (mobile_inverted_conv)
        return [tuple((b.get("conv") or b["mobile_inverted_conv"])[k] for k in ("kernel_size", "out_channels",
                                                                              "expand_ratio", "stride"))
                for b in blocks]

    assert shape(model.config["blocks"]) == shape(cfg["blocks"])
    assert count_macs(W10, model.arch) == pytest.approx(162e6, rel=0.03)  # published: 162M MACs
    assert model(torch.randn(1, 3, 172, 172)).shape == (1, 1000)


def test_names_wildcards_and_suggestions(monkeypatch):
    assert len(ofa_deploy.list_models("*pixel1*")) == 7
    assert W10 in ofa_deploy.list_models("ofa_mbv3*", kind="supernet")
    assert ofa_deploy.list_devices("pixel*") == ["pixel1", "pixel2"]
    assert len(ofa_deploy.list_models(kind="specialized")) == len(SPECIALIZED.names()) == 50
    with pytest.raises(UnknownNameError, match="did you mean 'pixel1'"):
        ofa_deploy.get_model(device="pixle1", latency=40)
    with pytest.raises(UnknownNameError, match="ofa_mbv3"):
        ofa_deploy.get_model(device="pixel1", latency=40, supernet="ofa_mbv4")


def test_offline_weights_name_the_embedded_supernet(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path))
    monkeypatch.setenv("OFA_DEPLOY_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="ofa_tiny_d123_e346_k357") as exc:
        ofa_deploy.get_model(device="pixel1", latency=40)
    assert "save it as" in str(exc.value)


def test_save_and_load_round_trip(tmp_path):
    model = ofa_deploy.get_model(device="pixel1", latency=2.0, supernet="tiny", pretrained=False,
                                 accuracy_predictor="macs", calib_data=None, progress=False, cache=False)
    assert model.card["predicted_accuracy"]["is_accuracy"] is False
    save_model(model, tmp_path / "m.pth")
    again = load_model(tmp_path / "m.pth")
    x = torch.randn(3, *model.input_shape[1:])
    with torch.no_grad():
        np.testing.assert_array_equal(again(x).numpy(), model(x).numpy())
    assert again.card == model.card and again.arch == model.arch


def test_deployable_model_pickles_saves_and_copies(tmp_path):
    """get_model returns a real class: torch.save/torch.load, pickle and deepcopy keep weights, card and methods."""
    import copy
    import pickle

    from ofa_deploy.card import DRY_RUN, ModelCard
    from ofa_deploy.deployable import DeployableModel

    model = ofa_deploy.get_model(device="pixel1", latency=2.0, supernet="tiny", pretrained=False,
                                 calib_data=None, progress=False, cache=False)
    assert type(model) is DeployableModel and isinstance(model.card, ModelCard)
    assert model.card.weights == DRY_RUN and model.card.dry_run is True
    assert model.card.verification == {"verified": False, "reason": model.card.verification["reason"]}
    assert "cannot be measured" in model.card.verification["reason"]   # pixel1 is an estimated device
    assert "export" not in vars(model) and "benchmark" not in vars(model)   # real methods, nothing patched
    torch.save(model, tmp_path / "whole.pt")
    # the whole object loads with weights_only=True once its own classes are allowed: its modules,
    # the card and the arch (nothing else is unpickled)
    allowed = {type(m) for m in model.modules()} | {ModelCard, ofa_deploy.ArchConfig}
    with torch.serialization.safe_globals(sorted(allowed, key=lambda c: c.__qualname__)):
        loaded = torch.load(tmp_path / "whole.pt", weights_only=True)
    copies = [loaded, pickle.loads(pickle.dumps(model)), copy.deepcopy(model)]
    x = torch.randn(2, *model.input_shape[1:])
    with torch.no_grad():
        want = model(x)
        for again in copies:
            assert type(again) is DeployableModel and again.card == model.card and again.arch == model.arch
            assert again.input_shape == model.input_shape
            torch.testing.assert_close(again(x), want, rtol=0, atol=0)
    art = copies[0].export("onnx", tmp_path / "exp")
    assert json.loads(art.sidecar.read_text())["card"]["weights"] == DRY_RUN
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.card.name = "other"
