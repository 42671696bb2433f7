"""The front door: `get_model(device, latency)` searches the supernet for the most accurate subnet
under the budget, cuts it out with its weights, recalibrates BN and hands back a static PyTorch
model that knows what it is (arch, input shape, predicted latency and accuracy with their
sources, a model card) and how to export and benchmark itself. `list_models` and `list_devices`
show the names the registry owns, with timm-style wildcards."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn

from .arch import ArchConfig
from .card import DRY_RUN, ModelCard, published_card, subnet_card
from .deployable import DeployableModel
from .errors import BadArgumentError, OfaDeployError, WeightsUnavailableError
from .fileio import load_torch_file
from .registry import DEVICES, SPECIALIZED, SUPERNETS, SpecializedNetRecord, SupernetRecord, get_supernet_record

DEFAULT_SUPERNET = "ofa_mbv3_d234_e346_k357_w1.0"
EMBEDDED = "ofa_tiny_d123_e346_k357"


def list_models(pattern: str = "*", kind: str = "all", pretrained: bool = False) -> list[str]:
    """Supernet and published specialized-net names matching `pattern` (wildcards, any case).

    kind: 'all', 'supernet' or 'specialized'; pretrained=True keeps names with registered weights."""
    from .registry import list_names

    return list_names(pattern, kind, pretrained)


def list_devices(pattern: str = "*") -> list[str]:
    """Device names matching `pattern` (aliases match too, e.g. 'pixel*')."""
    return DEVICES.names(pattern)


@dataclass(frozen=True)
class SearchRequest:
    """What get_model asks the search for (everything but the latency limit, which verify may tighten)."""

    supernet: str
    device: str | None = None
    latency: float | None = None
    macs: float | None = None
    params: float | None = None
    accuracy_predictor: Any = None
    latency_table: Any = None
    resolutions: Sequence[int] | None = None
    seed: int = 0
    cache: bool = True
    progress: bool = True


@dataclass(frozen=True)
class SearchOutcome:
    """The search's best arch and what is known about it."""

    arch: ArchConfig
    score: float | None = None                      # predicted top-1 (None for non-accuracy scores)
    values: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    accuracy: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)


def get_model(device: str | None = None, latency: float | None = None, supernet: str = DEFAULT_SUPERNET, *,
              macs: float | None = None, params: float | None = None, accuracy_predictor: Any = None,
              latency_table: Any = None, resolutions: Sequence[int] | None = None, pretrained: bool = True,
              weights: str | Path | None = None, calib_data: Iterable | str | None = "auto",
              prefer_published: bool = False, seed: int = 0, cache: bool = True, progress: bool = True,
              verify: bool | None = None, arch: Any = None) -> DeployableModel:
    """The most accurate subnet of `supernet` whose predicted latency on `device` is ≤ `latency` ms
    (and MACs ≤ `macs`, params ≤ `params`), as a ready static PyTorch model in eval mode.

    `device` may also be a published specialized-net id (e.g. 'pixel1_lat@40ms_top1@74.9_finetune@25'):
    that net is built from its net.config with its weights. calib_data: batches to recalibrate BN on,
    'auto' (the supernet's own dataset when it is on this machine) or None. A published net that
    meets the budget with a higher published top-1 than the search predicts is offered in the log
    and the card; prefer_published=True returns it instead. verify (default: True when the device's
    backend can measure from here): export and measure the winner, and search again with a corrected
    limit while the measured median is over budget (see ofa_deploy.verify). arch: extract this arch
    instead of searching."""
    if device is not None and device in SPECIALIZED and device not in DEVICES:
        return load_published(device, pretrained=pretrained, weights=weights)
    record = get_supernet_record(supernet)
    if device is not None:
        device = DEVICES.get(device).name
    net = _load_supernet(record, pretrained, weights)
    request = SearchRequest(record.name, device, latency, macs, params, accuracy_predictor, latency_table,
                            resolutions, seed, cache, progress)
    if arch is not None:   # a known arch (as printed, a dict or JSON): extract it, no search
        found, verify = SearchOutcome(ArchConfig.coerce(arch, record.space)), False
    else:
        found = _search(record, request)
    verification, found = _verify(verify, net, record, request, found)
    alt = _published_alternative(record, device, latency, found)
    if alt is not None and prefer_published:
        return load_published(alt.name, pretrained=pretrained)
    model = _cut(net, found.arch)
    bn = _calibrate(model, record, found.arch, calib_data)
    card = subnet_card(record, device, latency, found.arch, found, bn, weights, pretrained, alt)
    if verification is not None:
        card = card.updated(verification=verification)
    return DeployableModel(model, card, found.arch)


def _cut(net: nn.Module, arch: ArchConfig) -> nn.Module:
    net.set_arch(arch)
    return net.get_active_subnet(preserve_weight=True).eval()


def _verify(verify: bool | None, net, record, request: SearchRequest, found: SearchOutcome):
    """(verification record for the card or None, the outcome to use)."""
    from . import verify as v

    measurable = request.latency is not None and "latency" in found.values and \
        v.measuring_backend(request.device) is not None
    if verify is None:
        verify = measurable
    if not verify:
        if request.latency is None or "latency" not in found.values:
            return None, found
        why = "verify=False" if measurable else f"{request.device or 'this latency model'} cannot be measured from here"
        return v.unverified_record(f"predicted, not measured ({why})"), found
    if not measurable:
        raise OfaDeployError(f"verify=True needs a latency budget on a device whose backend measures from here "
                             f"(onnxruntime-cpu, openvino-cpu, litert-cpu, a phone with an adb serial); "
                             f"{request.device!r} cannot. Pass verify=False")
    build = lambda outcome: DeployableModel(_cut(net, outcome.arch), {"name": "verify", "in_channels":
                                            getattr(record.spec, "in_channels", 3)}, outcome.arch)
    research = lambda limit: _search(record, replace(request, latency=limit, progress=False))
    found2, rec = v.verify_loop(request.latency, request.device, record.name, found, build, research)
    return rec, found2


def load_published(name: str, pretrained: bool = True, weights: str | Path | None = None) -> DeployableModel:
    """A published specialized net, built from its official net.config (weights from the hub)."""
    from .supernets import build_static

    rec = SPECIALIZED.get(name)
    model = build_static(rec.net_config)
    source, dry = DRY_RUN, True
    if weights is not None or pretrained:
        from . import hub
        from .supernets import load_checkpoint

        path = Path(weights) if weights is not None else hub.fetch(rec.weights)
        load_checkpoint(model, path)
        source, dry = (str(weights) if weights is not None else rec.weights.name), False
    arch = _published_arch(rec)
    backend = DEVICES.get(rec.device).backend if rec.device in DEVICES else None
    card = published_card(rec, arch, source, dry, backend)
    return DeployableModel(model.eval(), card, arch, (1, 3, rec.image_size, rec.image_size))


def attach(model: nn.Module, card: Mapping[str, Any], arch: ArchConfig | None,
           input_shape: tuple[int, ...] | None = None) -> DeployableModel:
    """A static net as a DeployableModel with this card (a ModelCard or its dict form)."""
    return DeployableModel(model.eval(), card, arch, input_shape)


# ---- the steps of get_model ----------------------------------------------------------------------
def _load_supernet(record: SupernetRecord, pretrained: bool, weights: str | Path | None) -> nn.Module:
    from .supernets import get_supernet

    try:
        return get_supernet(record.name, pretrained=pretrained and weights is None, weights=weights)
    except WeightsUnavailableError as exc:
        raise WeightsUnavailableError(f"{exc} For a dry run with random weights pass pretrained=False.") from None


def _search(record: SupernetRecord, q: SearchRequest) -> SearchOutcome:
    """The search's best arch for request `q`."""
    from .search import search

    if q.device is None and q.latency_table is None and q.latency is not None:
        raise OfaDeployError(f"latency={q.latency} ms needs a device (one of {', '.join(list_devices()[:6])}, …) "
                             f"or latency_table=<path>")
    if q.device is None and q.latency_table is None and q.macs is None and q.params is None:
        return SearchOutcome(record.space.largest(max(q.resolutions or record.space.resolutions)))
    res = search(record.name, device=q.device, latency=q.latency, latency_table=q.latency_table,
                 accuracy_predictor=q.accuracy_predictor, macs=q.macs, params=q.params, resolutions=q.resolutions,
                 seed=q.seed, cache=q.cache, progress=q.progress)
    return SearchOutcome(
        res.arch, res.score if res.predicted_accuracy is not None else None, dict(res.values), dict(res.limits),
        dict(res.latency), dict(res.accuracy),
        {"seed": res.seed, "seconds": res.seconds, "cache_key": res.cache_key, "config": res.config,
         "resolutions": res.resolutions})


def _published_arch(rec: SpecializedNetRecord) -> ArchConfig | None:
    if rec.supernet not in SUPERNETS or SUPERNETS.get(rec.supernet).family not in ("mbv3", "proxyless"):
        return None
    from .supernets.mbnet import arch_from_net_config

    return arch_from_net_config(rec.net_config, rec.image_size, SUPERNETS.get(rec.supernet).spec)


def _published_alternative(record, device, latency, found) -> SpecializedNetRecord | None:
    """The best published net of this supernet for `device` within the budget, if its published
    top-1 beats the search's predicted top-1."""
    if device is None or latency is None:
        return None
    fits = [r for r in SPECIALIZED.records() if r.device == device and r.supernet == record.name
            and r.latency_ms is not None and r.latency_ms <= latency]
    if not fits:
        return None
    best = max(fits, key=lambda r: r.top1)
    if found.score is not None and best.top1 / 100 <= found.score:
        return None
    from .log import LOGGER

    pred = f"{100 * found.score:.1f}%" if found.score is not None else "no accuracy prediction"
    LOGGER.info(f"ℹ️  published net {best.name} ({best.latency_ms:g} ms, top-1 {best.top1}% after "
                f"{best.finetune_epochs} fine-tune epochs) meets this budget; the search found {pred}. "
                f"Use get_model('{best.name}') or prefer_published=True to get it.")
    return best


def _calibrate(model: nn.Module, record: SupernetRecord, arch: ArchConfig, calib_data) -> str:
    """Recalibrate BN statistics; say what was done (it goes into the card)."""
    from .bn_calibration import recalibrate_bn

    if calib_data is None:
        return "inherited from the supernet (calib_data=None)"
    if isinstance(calib_data, str):
        if calib_data != "auto":
            raise BadArgumentError(f"calib_data must be batches of images, 'auto' or None, not {calib_data!r}")
        data = _own_dataset(record)
        if data is None:
            return (f"inherited from the supernet (no {record.dataset} data on this machine; pass calib_data="
                    f"batches of normalised {tuple(record.mean)}/{tuple(record.std)} images to recalibrate)")
        from .training.data import batches

        recalibrate_bn(model, batches(data, 200, arch.r, seed=1, mean=record.mean, std=record.std, limit=2000))
        return f"recalibrated on 2000 {record.dataset} training images"
    recalibrate_bn(model, calib_data)
    return "recalibrated on the given calib_data"


def _own_dataset(record: SupernetRecord):
    if record.dataset != "fashion-mnist":
        return None
    from .training.data import load_fashion_mnist

    try:
        return load_fashion_mnist("train")
    except (FileNotFoundError, OSError):
        return None


def save_model(model: DeployableModel, path: str | Path) -> Path:
    """Write a static model with its net.config and card (atomically); `load_model` reads it back."""
    from .fileio import atomic_path

    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        raise OfaDeployError(f"{type(model).__name__} has no net.config; save_model takes models from get_model")
    net = getattr(model, "net", model)
    card = ModelCard.from_dict(getattr(model, "card", None)).to_dict()
    obj = {"net_config": config, "state_dict": net.state_dict(), "card": card,
           "input_shape": list(getattr(model, "input_shape", ()))}
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_model(spec: str | Path) -> DeployableModel:
    """A model from a file written by save_model, or a published specialized-net id."""
    from .supernets import build_static

    p = Path(spec)
    if not p.is_file():
        if str(spec) in SPECIALIZED:
            return load_published(str(spec))
        raise OfaDeployError(f"{spec} is neither a saved model file (ofa-deploy get --out DIR writes model.pth) "
                             f"nor a published net id (ofa-deploy models '*@*' lists them)")
    obj = load_torch_file(p, "a model saved by ofa_deploy", "write it again with `ofa-deploy get --out DIR`")
    if not isinstance(obj, dict) or "net_config" not in obj or "state_dict" not in obj:
        raise OfaDeployError(f"{p} is not a model saved by ofa_deploy (expected keys net_config, state_dict, card)")
    model = build_static(obj["net_config"])
    model.load_state_dict(obj["state_dict"], strict=True)
    card = obj.get("card") or {}
    arch = ArchConfig.from_dict(card["arch"]) if card.get("arch") else None
    shape = tuple(obj.get("input_shape") or ()) or None
    return DeployableModel(model.eval(), card, arch, shape)
