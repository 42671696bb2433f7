"""The front door: `get_model(device, latency)` searches the supernet for the most accurate subnet
under the budget, cuts it out with its weights, recalibrates BN and hands back a static PyTorch
model that knows what it is (arch, input shape, predicted latency and accuracy with their
sources, a model card) and how to export and benchmark itself. `list_models` and `list_devices`
show the names the registry owns, with timm-style wildcards."""
from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from . import __version__
from .arch import ArchConfig
from .errors import OfaDeployError, WeightsUnavailableError
from .registry import DEVICES, SPECIALIZED, SUPERNETS, SpecializedNetRecord, SupernetRecord, get_supernet_record

DEFAULT_SUPERNET = "ofa_mbv3_d234_e346_k357_w1.0"
EMBEDDED = "ofa_tiny_d123_e346_k357"


def list_models(pattern: str = "*", kind: str = "all", pretrained: bool = False) -> list[str]:
    """Supernet and published specialized-net names matching `pattern` (wildcards, any case).

    kind: 'all', 'supernet' or 'specialized'; pretrained=True keeps names with registered weights."""
    if kind not in ("all", "supernet", "specialized"):
        raise ValueError(f"kind must be 'all', 'supernet' or 'specialized', not {kind!r}")
    out = []
    if kind in ("all", "supernet"):
        out += [r.name for r in SUPERNETS.records(pattern) if not pretrained or r.weights is not None]
    if kind in ("all", "specialized"):
        out += [r.name for r in SPECIALIZED.records(pattern) if not pretrained or r.weights is not None]
    return out


def list_devices(pattern: str = "*") -> list[str]:
    """Device names matching `pattern` (aliases match too, e.g. 'pixel*')."""
    return DEVICES.names(pattern)


def get_model(device: str | None = None, latency: float | None = None, supernet: str = DEFAULT_SUPERNET, *,
              macs: float | None = None, params: float | None = None, accuracy_predictor: Any = None,
              latency_table: Any = None, resolutions: Sequence[int] | None = None, pretrained: bool = True,
              weights: str | Path | None = None, calib_data: Iterable | str | None = "auto",
              prefer_published: bool = False, seed: int = 0, cache: bool = True, progress: bool = True) -> nn.Module:
    """The most accurate subnet of `supernet` whose predicted latency on `device` is ≤ `latency` ms
    (and MACs ≤ `macs`, params ≤ `params`), as a ready static PyTorch model in eval mode.

    `device` may also be a published specialized-net id (e.g. 'pixel1_lat@40ms_top1@74.9_finetune@25'):
    that net is built from its net.config with its weights. calib_data: batches to recalibrate BN on,
    'auto' (the supernet's own dataset when it is on this machine) or None. A published net that
    meets the budget with a higher published top-1 than the search predicts is offered in the log
    and the card; prefer_published=True returns it instead."""
    if device is not None and device in SPECIALIZED and device not in DEVICES:
        return load_published(device, pretrained=pretrained, weights=weights)
    record = get_supernet_record(supernet)
    if device is not None:
        device = DEVICES.get(device).name
    net = _load_supernet(record, pretrained, weights)
    found = _search(record, device, latency, macs, params, accuracy_predictor, latency_table, resolutions, seed,
                    cache, progress)
    alt = _published_alternative(record, device, latency, found)
    if alt is not None and prefer_published:
        return load_published(alt.name, pretrained=pretrained)
    net.set_arch(found["arch"])
    model = net.get_active_subnet(preserve_weight=True).eval()
    bn = _calibrate(model, record, found["arch"], calib_data)
    card = _card(record, device, latency, found, bn, weights, pretrained, alt)
    return attach(model, card, found["arch"])


def load_published(name: str, pretrained: bool = True, weights: str | Path | None = None) -> nn.Module:
    """A published specialized net, built from its official net.config (weights from the hub)."""
    from .supernets import build_static

    rec = SPECIALIZED.get(name)
    model = build_static(rec.net_config)
    source = "random init (pretrained=False)"
    if weights is not None or pretrained:
        from . import hub
        from .supernets import load_checkpoint

        path = Path(weights) if weights is not None else hub.fetch(rec.weights)
        load_checkpoint(model, path)
        source = str(weights) if weights is not None else rec.weights.name
    arch = _published_arch(rec)
    card = {"name": rec.name.replace("@", "-"), "kind": "published", "supernet": rec.supernet,
            "device": rec.device, "resolution": rec.image_size, "in_channels": 3,
            "arch": arch.to_dict() if arch else None, "weights": source,
            "published": {"latency_ms": rec.latency_ms, "flops_m": rec.flops_m, "top1": rec.top1,
                          "finetune_epochs": rec.finetune_epochs},
            "predicted_accuracy": {"top1": rec.top1 / 100, "source": "published (ImageNet val, official)"},
            "ofa_deploy": __version__}
    if rec.latency_ms:
        card["predicted_latency"] = {"ms": rec.latency_ms, "device": rec.device, "source": "published",
                                     "backend": DEVICES.get(rec.device).backend if rec.device in DEVICES else None}
    return attach(model.eval(), card, arch, (1, 3, rec.image_size, rec.image_size))


def attach(model: nn.Module, card: dict[str, Any], arch: ArchConfig | None,
           input_shape: tuple[int, ...] | None = None) -> nn.Module:
    """Give a static model its identity (card, arch, input_shape) and the export/benchmark methods."""
    model.card = card
    model.arch = arch
    model.input_shape = tuple(input_shape or (1, card.get("in_channels", 3), arch.r, arch.r))
    model.export = types.MethodType(_export, model)
    model.benchmark = types.MethodType(_benchmark, model)
    return model


def _export(self, format: str, out_dir: str | Path = "export", precision: str = "fp32", **kwargs):
    """Export this model through the backend plugin for `format` (see ofa_deploy.export)."""
    from .deploy.export import export

    return export(self, format, out_dir, precision=precision, **kwargs)


def _benchmark(self, backends: Sequence[str] | None = None, **kwargs):
    """Export and measure this model on each backend (see ofa_deploy.benchmark)."""
    from .deploy.benchmark import benchmark

    return benchmark(self, backends=backends, **kwargs)


# ---- the steps of get_model ----------------------------------------------------------------------
def _load_supernet(record: SupernetRecord, pretrained: bool, weights: str | Path | None) -> nn.Module:
    from .supernets import get_supernet

    try:
        return get_supernet(record.name, pretrained=pretrained and weights is None, weights=weights)
    except WeightsUnavailableError as exc:
        raise WeightsUnavailableError(f"{exc} For a dry run with random weights pass pretrained=False.") from None


def _search(record, device, latency, macs, params, accuracy_predictor, latency_table, resolutions, seed,
            cache, progress) -> dict[str, Any]:
    """The search's best arch and what is known about it, as one dict."""
    from .search import search

    if device is None and latency_table is None and latency is not None:
        raise OfaDeployError(f"latency={latency} ms needs a device (one of {', '.join(list_devices()[:6])}, …) "
                             f"or latency_table=<path>")
    if device is None and latency_table is None and macs is None and params is None:
        arch = record.space.largest(max(resolutions or record.space.resolutions))
        return {"arch": arch, "score": None, "values": {}, "latency": {}, "accuracy": {}, "search": {}}
    res = search(record.name, device=device, latency=latency, latency_table=latency_table,
                 accuracy_predictor=accuracy_predictor, macs=macs, params=params, resolutions=resolutions,
                 seed=seed, cache=cache, progress=progress)
    return {"arch": res.arch, "score": res.score if res.predicted_accuracy is not None else None,
            "proxy_score": res.score, "values": res.values, "limits": res.limits, "latency": res.latency,
            "accuracy": res.accuracy,
            "search": {"seed": res.seed, "seconds": res.seconds, "cache_key": res.cache_key,
                       "config": res.config, "resolutions": res.resolutions}}


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
    if found["score"] is not None and best.top1 / 100 <= found["score"]:
        return None
    from .log import LOGGER

    pred = f"{100 * found['score']:.1f}%" if found["score"] is not None else "no accuracy prediction"
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
            raise ValueError(f"calib_data must be batches of images, 'auto' or None, not {calib_data!r}")
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


def _card(record, device, latency, found, bn, weights, pretrained, alt) -> dict[str, Any]:
    from .profile import count_macs, count_params

    arch: ArchConfig = found["arch"]
    spec = record.spec
    tag = f"{device}-{latency:g}ms" if device and latency is not None else "custom"
    card: dict[str, Any] = {
        "name": f"{record.name}-{tag}", "kind": "subnet", "supernet": record.name, "device": device,
        "arch": arch.to_dict(), "arch_short": arch.short(), "resolution": arch.r,
        "in_channels": getattr(spec, "in_channels", 3), "num_classes": getattr(spec, "n_classes", None),
        "preprocess": {"layout": "NCHW", "scale": "pixels / 255", "mean": list(record.mean), "std": list(record.std),
                       "dataset": record.dataset},
        "macs": float(count_macs(record.name, arch)), "params": float(count_params(record.name, arch)),
        "weights": str(weights) if weights else (record.weights.name if pretrained and record.weights else
                                                 "random init (pretrained=False)"),
        "bn_calibration": bn, "constraints": found.get("limits", {}), "search": found["search"],
        "ofa_deploy": __version__,
    }
    if "latency" in found["values"]:
        lat = found["latency"]
        card["predicted_latency"] = {"ms": found["values"]["latency"], "device": lat.get("device"),
                                     "backend": lat.get("backend"), "source": lat.get("source"),
                                     "provenance": lat.get("provenance", {})}
    if found["accuracy"]:
        card["predicted_accuracy"] = {"top1": found["score"], **found["accuracy"]}
    if alt is not None:
        card["published_alternative"] = {"name": alt.name, "latency_ms": alt.latency_ms, "top1": alt.top1}
    return card


def save_model(model: nn.Module, path: str | Path) -> Path:
    """Write a static model with its net.config and card (atomically); `load_model` reads it back."""
    from .fileio import atomic_path

    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        raise OfaDeployError(f"{type(model).__name__} has no net.config; save_model takes models from get_model")
    obj = {"net_config": config, "state_dict": model.state_dict(), "card": getattr(model, "card", {}),
           "input_shape": list(getattr(model, "input_shape", ()))}
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_model(spec: str | Path) -> nn.Module:
    """A model from a file written by save_model, or a published specialized-net id."""
    from .supernets import build_static

    p = Path(spec)
    if not p.is_file():
        if str(spec) in SPECIALIZED:
            return load_published(str(spec))
        raise OfaDeployError(f"{spec} is neither a saved model file (ofa-deploy get --out DIR writes model.pth) "
                             f"nor a published net id (ofa-deploy models '*@*' lists them)")
    obj = torch.load(p, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict) or "net_config" not in obj or "state_dict" not in obj:
        raise OfaDeployError(f"{p} is not a model saved by ofa_deploy (expected keys net_config, state_dict, card)")
    model = build_static(obj["net_config"])
    model.load_state_dict(obj["state_dict"], strict=True)
    card = obj.get("card") or {}
    arch = ArchConfig.from_dict(card["arch"]) if card.get("arch") else None
    shape = tuple(obj.get("input_shape") or ()) or None
    return attach(model.eval(), card, arch, shape)
