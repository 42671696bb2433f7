"""`ModelCard`: one typed, frozen record of what a model is and where its numbers come from, built
once here — for a searched subnet, for a published net, and again with the export facts when an
artifact is written. It reads like a mapping (`card["predicted_latency"]["ms"]`, `card.get(…)`,
`"x" in card`) so JSON, sidecars and older callers see the same keys; `to_dict()` is the JSON form."""
from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from importlib import metadata
from typing import Any, Iterator

CARD_KEY = "ofa_deploy.card"   # metadata key used by every format that holds key/value strings
DRY_RUN = "random (dry run)"   # what `weights` says when pretrained=False


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, eq=True)
class ModelCard(Mapping):
    """What a deployable model is. None fields are absent from the mapping view and the JSON."""

    name: str = "model"
    kind: str = "subnet"                         # subnet | published | custom
    supernet: str | None = None
    device: str | None = None
    arch: dict[str, Any] | None = None
    arch_short: str | None = None
    resolution: int | None = None
    in_channels: int = 3
    num_classes: int | None = None
    preprocessing: dict[str, Any] | None = None  # layout, scale, mean/std, resize (see ofa_deploy.preprocess)
    macs: float | None = None
    params: float | None = None
    weights: str | None = None                   # asset name, a path, or DRY_RUN
    dry_run: bool | None = None
    bn_calibration: str | None = None
    constraints: dict[str, float] | None = None
    search: dict[str, Any] | None = None
    predicted_latency: dict[str, Any] | None = None
    predicted_accuracy: dict[str, Any] | None = None
    published: dict[str, Any] | None = None
    published_alternative: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None   # measured median/p90/spread, rounds, settings (verify.py)
    ofa_deploy: str | None = None
    # export facts (set by `exported`)
    format: str | None = None
    backend: str | None = None
    precision: str | None = None
    input_shape: list[int] | None = None
    input_name: str | None = None
    output_name: str | None = None
    tools: dict[str, str] | None = None
    created: str | None = None
    host: str | None = None
    sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)   # keys other tools add (parity, spec_check, …)

    # ---- mapping view --------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key != "extra" and key in _FIELDS:
            value = getattr(self, key)
            if value is None:
                raise KeyError(key)
            return value
        return self.extra[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    __hash__ = None  # holds dicts: equal by value, not hashable

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every set field, then the extra keys."""
        out = {f: getattr(self, f) for f in _FIELDS if f != "extra" and getattr(self, f) is not None}
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "ModelCard":
        """A card from its JSON form (unknown keys are kept in `extra`; the old `preprocess` key is read)."""
        if isinstance(d, ModelCard):
            return d
        d = dict(d or {})
        if "preprocess" in d and "preprocessing" not in d:
            d["preprocessing"] = d.pop("preprocess")
        known = {k: d.pop(k) for k in list(d) if k in _FIELDS and k != "extra"}
        return cls(**known, extra={**dict(d.pop("extra", None) or {}), **d})

    def updated(self, **changes: Any) -> "ModelCard":
        """A copy with `changes` (known fields replaced, other keys added to `extra`)."""
        known = {k: v for k, v in changes.items() if k in _FIELDS and k != "extra"}
        other = {k: v for k, v in changes.items() if k not in known}
        return replace(self, **known, extra={**self.extra, **other}) if other else replace(self, **known)

    def exported(self, artifact, versions: dict[str, str], extra: dict[str, Any] | None = None) -> "ModelCard":
        """This card plus the facts of one exported artifact (format, tools, checksum, …)."""
        from .fileio import sha256_file

        card = self.updated(**(extra or {}))
        return card.updated(
            format=artifact.format, backend=artifact.backend, precision=artifact.precision,
            input_shape=list(artifact.input_shape), input_name=artifact.input_name,
            output_name=artifact.output_name,
            tools={"ofa-deploy": _version("ofa-deploy"), "torch": _version("torch"), **versions},
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"), host=platform.node(),
            sha256=sha256_file(artifact.path) if artifact.path.is_file() else None)


_FIELDS = tuple(f.name for f in fields(ModelCard))


def preprocessing_record(record, resolution: int) -> dict[str, Any]:
    """How inputs must be prepared for a `resolution`-px net of supernet `record` (a record or a
    name): the full ofa_deploy.preprocess record — resize method and size, crop, layout, scale,
    mean/std, channels — at the net's own input size."""
    from .preprocess import preprocessing_for

    return preprocessing_for(record, resolution).to_dict()


def weights_label(weights, pretrained: bool, asset_name: str | None) -> tuple[str, bool]:
    """(what the card says about the weights, whether this is a dry run with random ones)."""
    if weights is not None:
        return str(weights), False
    if pretrained and asset_name:
        return asset_name, False
    return DRY_RUN, True


def accuracy_record(score: float | None, info: dict[str, Any]) -> dict[str, Any] | None:
    """The card's predicted_accuracy: a top-1 from another space's predictor is marked a proxy."""
    if not info:
        return None
    out = {"top1": score, **info}
    if info.get("proxy_for") or info.get("source") == "proxy" or not info.get("is_accuracy", True):
        out["proxy"] = True
    return out


def subnet_card(record, device: str | None, latency: float | None, arch, outcome, bn: str, weights,
                pretrained: bool, alternative=None) -> ModelCard:
    """The card of a subnet cut out of supernet `record` by get_model (`outcome`: a SearchOutcome)."""
    from . import __version__
    from .profile import count_macs, count_params

    spec = record.spec
    tag = f"{device}-{latency:g}ms" if device and latency is not None else "custom"
    label, dry = weights_label(weights, pretrained, record.weights.name if record.weights else None)
    lat = outcome.latency
    predicted_latency = None
    if "latency" in outcome.values:
        predicted_latency = {"ms": outcome.values["latency"], "device": lat.get("device"),
                             "backend": lat.get("backend"), "source": lat.get("source"),
                             "provenance": lat.get("provenance", {}),
                             **({"warning": lat["warning"]} if lat.get("warning") else {})}   # e.g. extrapolated
    alt = None if alternative is None else {"name": alternative.name, "latency_ms": alternative.latency_ms,
                                            "top1": alternative.top1}
    return ModelCard(
        name=f"{record.name}-{tag}", kind="subnet", supernet=record.name, device=device, arch=arch.to_dict(),
        arch_short=arch.short(), resolution=arch.r, in_channels=getattr(spec, "in_channels", 3),
        num_classes=getattr(spec, "n_classes", None), preprocessing=preprocessing_record(record, arch.r),
        macs=float(count_macs(record.name, arch)), params=float(count_params(record.name, arch)),
        weights=label, dry_run=dry, bn_calibration=bn, constraints=_requested(outcome.limits, latency),
        search={**outcome.search, "limits": dict(outcome.limits)},
        predicted_latency=predicted_latency, predicted_accuracy=accuracy_record(outcome.score, outcome.accuracy),
        published_alternative=alt, ofa_deploy=__version__)


def _requested(limits: dict[str, float], latency: float | None) -> dict[str, float]:
    """The user's constraints: the budget asked for, not the tighter limit a verify round searched
    with (that one stays in search.limits)."""
    return {**limits, "latency": latency} if latency is not None and "latency" in limits else dict(limits)


def published_card(rec, arch, weights_source: str, dry: bool, device_backend: str | None) -> ModelCard:
    """The card of a published specialized net (`rec`: a SpecializedNetRecord)."""
    from . import __version__

    lat = None
    if rec.latency_ms:
        lat = {"ms": rec.latency_ms, "device": rec.device, "source": "published", "backend": device_backend}
    return ModelCard(
        name=rec.name.replace("@", "-"), kind="published", supernet=rec.supernet, device=rec.device,
        resolution=rec.image_size, in_channels=3, arch=arch.to_dict() if arch else None,
        arch_short=arch.short() if arch else None, weights=weights_source, dry_run=dry,
        preprocessing=preprocessing_record(rec.supernet, rec.image_size),
        published={"latency_ms": rec.latency_ms, "flops_m": rec.flops_m, "top1": rec.top1,
                   "finetune_epochs": rec.finetune_epochs},
        predicted_accuracy={"top1": rec.top1 / 100, "source": "published (ImageNet val, official)"},
        predicted_latency=lat, ofa_deploy=__version__)
