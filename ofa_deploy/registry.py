"""Names → records. This module owns every public name: supernets, weight/table/predictor assets,
devices and the official specialized nets. Records are data (frozen dataclasses); builders are
named by import path and loaded only when asked for.

Lookups accept aliases and are case-insensitive; an unknown name raises UnknownNameError with
close matches. `list_*` take shell-style wildcards like timm's `list_models('*mobilenet*')`.
"""
from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import BadArgumentError, UnknownNameError

HUB_BASE = "https://raw.githubusercontent.com/han-cai/files/master"
HF_REPO = "han-cai/ofa"


@dataclass(frozen=True)
class Asset:
    """A file the hub can fetch: weights, a latency table, a predictor checkpoint.

    `path` is relative to a hub base URL (the official one, a mirror, or a local server);
    `sha256` None means trust-on-first-download (recorded then verified on every later load);
    `package_file` names a file shipped inside ofa_deploy/data instead of a download."""

    name: str
    path: str = ""
    sha256: str | None = None
    size: int | None = None
    package_file: str | None = None
    hf_filename: str | None = None
    licence: str = "MIT"

    @property
    def filename(self) -> str:
        return (self.package_file or self.path).replace("/", "__")


@dataclass(frozen=True)
class SupernetRecord:
    name: str
    family: str                      # mbv3 | proxyless | resnet
    spec_ref: Any                    # "module:ATTR" of the family spec (carries the SearchSpace), or the spec
    builder: str                     # "module:callable" taking the spec
    weights: Asset | None = None
    accuracy_predictor: Asset | None = None
    aliases: tuple[str, ...] = ()
    dataset: str = "imagenet"
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    description: str = ""
    resolution_range: tuple[int, int] = (128, 260)   # min/max input px, for listing without the spec

    @property
    def spec(self):
        """The family spec dataclass, imported on first use: listing names must not import torch."""
        if not isinstance(self.spec_ref, str):
            return self.spec_ref
        mod, _, attr = self.spec_ref.partition(":")
        return getattr(importlib.import_module(mod), attr)

    @property
    def space(self):
        return self.spec.space

    @property
    def embedded(self) -> bool:
        return self.weights is not None and self.weights.package_file is not None

    def build(self):
        mod, _, attr = self.builder.partition(":")
        return getattr(importlib.import_module(mod), attr)(self.spec)


@dataclass(frozen=True)
class DeviceRecord:
    """A deployment target: which backend measures it and where its latency numbers come from."""

    name: str
    backend: str                     # onnxruntime | openvino | tflite | coreml | tvm | accel | none
    latency_source: str              # measured | official | estimated
    tables: dict[str, str] = field(default_factory=dict)   # supernet name → table name/path
    aliases: tuple[str, ...] = ()
    description: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # e.g. threads, use_gpu


@dataclass(frozen=True)
class SpecializedNetRecord:
    """One of the official specialized nets with its published figures."""

    name: str                        # official net id, e.g. pixel1_lat@40ms_top1@74.9_finetune@25
    device: str
    supernet: str
    latency_ms: float | None
    flops_m: float | None
    top1: float
    finetune_epochs: int
    image_size: int
    net_config: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    weights: Asset | None = None
    aliases: tuple[str, ...] = ()


R = TypeVar("R")


class Registry(Generic[R]):
    """A name → record table with aliases, wildcards and close-match errors."""

    def __init__(self, kind: str, hint: str = ""):
        self.kind, self.hint = kind, hint
        self._records: dict[str, R] = {}
        self._alias: dict[str, str] = {}
        self._pending: list[Callable[[], None]] = []   # loaders run on the first lookup

    def defer(self, loader: Callable[[], None]) -> None:
        """Register records on first use (package data that most calls never need)."""
        self._pending.append(loader)

    def _ready(self) -> None:
        while self._pending:
            self._pending.pop(0)()

    def register(self, record: R) -> R:
        name = record.name  # type: ignore[attr-defined]
        self._records[name] = record
        for a in (name, *getattr(record, "aliases", ())):
            self._alias[a.lower()] = name
        return record

    def get(self, name: str) -> R:
        self._ready()
        key = self._alias.get(str(name).lower())
        if key is None:
            raise UnknownNameError(self.kind, str(name), list(self._records) + list(self._extra_names()),
                                   self.hint)
        return self._records[key]

    def _extra_names(self) -> Iterator[str]:
        for rec in self._records.values():
            yield from getattr(rec, "aliases", ())

    def __contains__(self, name: str) -> bool:
        self._ready()
        return str(name).lower() in self._alias

    def names(self, pattern: str = "*") -> list[str]:
        self._ready()
        pat = pattern.lower()
        return sorted(n for n, r in self._records.items()
                      if fnmatch.fnmatch(n.lower(), pat)
                      or any(fnmatch.fnmatch(a.lower(), pat) for a in getattr(r, "aliases", ())))

    def records(self, pattern: str = "*") -> list[R]:
        return [self._records[n] for n in self.names(pattern)]


SUPERNETS: Registry[SupernetRecord] = Registry(
    "supernet", "The embedded supernet 'ofa_tiny_d123_e346_k357' works offline.")
DEVICES: Registry[DeviceRecord] = Registry("device", "ofa_deploy.list_devices() shows them all.")
SPECIALIZED: Registry[SpecializedNetRecord] = Registry("specialized net")
ASSETS: Registry[Asset] = Registry("asset")


def register_supernet(record: SupernetRecord) -> SupernetRecord:
    for a in (record.weights, record.accuracy_predictor):
        if a is not None:
            ASSETS.register(a)
    return SUPERNETS.register(record)


def get_supernet_record(name: str) -> SupernetRecord:
    return SUPERNETS.get(name)


def list_supernets(pattern: str = "*", pretrained: bool = False) -> list[str]:
    return [r.name for r in SUPERNETS.records(pattern) if not pretrained or r.weights is not None]


def list_names(pattern: str = "*", kind: str = "all", pretrained: bool = False) -> list[str]:
    """Supernet and published specialized-net names matching `pattern` (wildcards, any case);
    kind 'all', 'supernet' or 'specialized'; pretrained keeps names with registered weights."""
    if kind not in ("all", "supernet", "specialized"):
        raise BadArgumentError(f"kind must be 'all', 'supernet' or 'specialized', not {kind!r}")
    tables = {"supernet": [SUPERNETS], "specialized": [SPECIALIZED]}.get(kind, [SUPERNETS, SPECIALIZED])
    return [r.name for t in tables for r in t.records(pattern) if not pretrained or r.weights is not None]


def _official(net_id: str) -> Asset:
    return Asset(name=net_id, path=f"ofa/ofa_nets/{net_id}", hf_filename=f"ofa_nets/{net_id}")


_SN = "ofa_deploy.supernets"


def _register_supernets() -> None:
    mb = "ofa_deploy.supernets.mbv3:OFAMobileNetV3"
    register_supernet(SupernetRecord(
        "ofa_mbv3_d234_e346_k357_w1.0", "mbv3", f"{_SN}.mbv3:W10", mb,
        weights=_official("ofa_mbv3_d234_e346_k357_w1.0"),
        aliases=("ofa_mbv3_w1.0", "mbv3_w1.0", "ofa_mbv3"),
        description="OFA-MobileNetV3 w1.0, ImageNet (official weights)"))
    register_supernet(SupernetRecord(
        "ofa_mbv3_d234_e346_k357_w1.2", "mbv3", f"{_SN}.mbv3:W12", mb,
        weights=_official("ofa_mbv3_d234_e346_k357_w1.2"),
        accuracy_predictor=Asset(name="acc_predictor_ofa_mbv3_w1.2", path="ofa/acc_predictor.pth"),
        aliases=("ofa_mbv3_w1.2", "mbv3_w1.2"),
        description="OFA-MobileNetV3 w1.2, ImageNet (official weights and accuracy predictor)"))
    register_supernet(SupernetRecord(
        "ofa_tiny_d123_e346_k357", "mbv3", f"{_SN}.mbv3:TINY", mb,
        weights=Asset(name="ofa_tiny_fmnist", package_file="ofa_tiny_fmnist.pth",
                      sha256="547b3d0957b8b4a3a2165b8b687a7b1f95535bed40dc2dd0dfababd0994d5d7f"),
        accuracy_predictor=Asset(name="acc_predictor_ofa_tiny", package_file="acc_predictor_ofa_tiny.pth",
                                 sha256="c969881a2f9eda042c26e42c32fed2d7278f80a5b5ee989e3fe586a4eb1d41f2"),
        aliases=("tiny", "embedded", "ofa_tiny"), dataset="fashion-mnist", mean=(0.2860,), std=(0.3530,),
        resolution_range=(24, 32),
        description="Small elastic MobileNetV3 for 28-32 px grey images, 10 classes; trained here on "
                    "Fashion-MNIST with progressive shrinking; ships with the package"))
    register_supernet(SupernetRecord(
        "ofa_proxyless_d234_e346_k357_w1.3", "proxyless", f"{_SN}.proxyless:W13", f"{_SN}.proxyless:OFAProxylessNASNets",
        weights=_official("ofa_proxyless_d234_e346_k357_w1.3"),
        aliases=("ofa_proxyless_w1.3", "proxyless_w1.3", "ofa_proxyless"),
        description="OFA-ProxylessNAS w1.3, ImageNet (official weights; the GPU/CPU published nets)"))
    register_supernet(SupernetRecord(
        "ofa_resnet50", "resnet", f"{_SN}.resnet:R50", f"{_SN}.resnet:OFAResNets",
        weights=_official("ofa_resnet50"), aliases=("resnet50", "ofa_resnet", "ofa_resnet50_d012_e0.2-0.35_w0.65-1.0"), resolution_range=(128, 256),
        description="OFA-ResNet50 (ResNet-D: elastic depth, expand ratio and width), ImageNet (official weights)"))


def _register_devices() -> None:
    """Deployment targets: the official project's devices (estimated from their published nets,
    Note10 also from the official table) and our local runtimes (measured tables we ship)."""
    phones = {"pixel1": ("google pixel", "pixel-1"), "pixel2": ("pixel-2",), "note8": ("galaxy-note8", "note-8"),
              "note10": ("galaxy-note10", "note-10"), "s7edge": ("galaxy-s7-edge", "s7-edge"),
              "LG-G8": ("lg-g8", "lgg8", "lg_g8")}
    for name, aliases in phones.items():
        DEVICES.register(DeviceRecord(
            name, "tflite", "official" if name == "note10" else "estimated", aliases=aliases,
            description=f"{name} phone CPU (TFLite over adb); latency estimated from the official nets "
                        f"published for it" + (", or the official Note10 table for w1.2" if name == "note10" else ""),
            settings={"published": name}))
    for name, aliases, what in (("cpu", ("xeon", "intel-xeon", "cpu_lat"), "Intel Xeon CPU (ProxylessNAS nets)"),
                                ("1080ti_gpu64", ("1080ti", "gtx1080ti"), "GTX 1080Ti, batch 64"),
                                ("v100_gpu64", ("v100",), "Tesla V100, batch 64"),
                                ("tx2_gpu16", ("tx2", "jetson-tx2"), "Jetson TX2 GPU, batch 16")):
        DEVICES.register(DeviceRecord(name, "none", "estimated", aliases=aliases, settings={"published": name},
                                      description=f"{what}; latency estimated from the official nets published for it"))
    for name, backend, aliases in (("onnxruntime-cpu", "onnxruntime", ("ort", "ort-cpu", "onnx")),
                                   ("openvino-cpu", "openvino", ("ov", "ov-cpu", "openvino")),
                                   ("litert-cpu", "tflite", ("tflite-cpu", "litert", "tflite")),
                                   ("executorch-cpu", "executorch", ("et", "et-cpu", "executorch", "pte"))):
        DEVICES.register(DeviceRecord(name, backend, "measured", aliases=aliases, settings={"threads": 1},
                                      description=f"{backend} on this kind of host's CPU, 1 thread; "
                                                  f"measured tables in latency_tables/<supernet>/{name}/"))
    for r in (160, 176, 192, 208, 224):
        ASSETS.register(Asset(f"note10_lut_{r}", path=f"ofa/note10/{r}_lookup_table.yaml"))


def _register_specialized() -> None:
    """The 50 official specialized nets with their published figures (package data made by
    tools/import_specialized_nets.py from the official net.config/run.config files)."""
    import json
    from importlib import resources

    stems = {16: "ofa_mbv3_d234_e346_k357_w1.0", 24: "ofa_mbv3_d234_e346_k357_w1.2"}
    nets = json.loads(resources.files("ofa_deploy").joinpath("data/specialized_nets.json").read_text())["nets"]
    for n in nets:
        cfg = n["net_config"]
        supernet = (stems.get(cfg["first_conv"]["out_channels"], "?") if cfg["name"] == "MobileNetV3"
                    else "ofa_proxyless_d234_e346_k357_w1.3")
        weights = Asset(name=n["net_id"], path=f"ofa/ofa_specialized/{n['dir']}/init",
                        hf_filename=f"ofa_specialized/{n['dir']}/init")
        SPECIALIZED.register(SpecializedNetRecord(
            n["net_id"], n["device"], supernet, n["latency_ms"], n["flops_m"], n["top1"], n["finetune_epochs"],
            n["image_size"], cfg, weights, aliases=(n["dir"],)))
        ASSETS.register(weights)


_register_supernets()
_register_devices()
_specialized_loaded: list[bool] = []


def _load_specialized() -> None:
    """Parse the specialized nets' JSON once, on the first lookup in SPECIALIZED or ASSETS: most
    calls (search, predictors, tables) never need it, and its ~40k objects cost a full GC pass."""
    if not _specialized_loaded:
        _specialized_loaded.append(True)
        _register_specialized()


SPECIALIZED.defer(_load_specialized)
ASSETS.defer(_load_specialized)
