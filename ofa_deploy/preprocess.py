"""How inputs are prepared for a supernet's subnets, as data and as a transform (after timm's
`resolve_data_config` / `create_transform`): a frozen `Preprocessing` record per supernet (resize
method and size, crop, layout, scale, mean/std, channels), JSON-serializable for the exported
sidecar, and a pure-torch transform built from it.

    cfg = resolve_preprocessing(model)          # or a supernet name / alias, with resolution=
    x = create_transform(cfg)(uint8_images)     # [N, C, H, W] float32, ready for the model
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .errors import BadArgumentError

LAYOUTS = ("NCHW",)
RESIZES = ("bilinear", "bicubic", "nearest")
_GREY = (0.299, 0.587, 0.114)          # ITU-R 601 luma, as PIL's convert("L")


@dataclass(frozen=True)
class Preprocessing:
    """uint8 image → model input: to `channels`, × scale, resize the shorter side to
    round_up(size / crop_pct) with `resize`, centre-crop size × size, (x − mean) / std, in `layout`."""

    size: int                            # model input height = width
    channels: int                        # 1 (grey) or 3 (RGB)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: str = "bilinear"             # torch.nn.functional.interpolate mode, align_corners=False
    crop_pct: float = 1.0                # 1.0: resize straight to size (no crop)
    antialias: bool = False
    scale: float = 1 / 255               # uint8 pixels → [0, 1]
    layout: str = "NCHW"
    dtype: str = "float32"
    dataset: str = ""
    source_size: int | None = None       # the dataset's native image size, when it has one

    def __post_init__(self):
        if self.layout not in LAYOUTS or self.resize not in RESIZES:
            raise BadArgumentError(f"preprocessing: layout must be one of {LAYOUTS} and resize one of {RESIZES}, "
                                   f"not {self.layout!r}/{self.resize!r}")
        if self.channels not in (1, 3) or len(self.mean) != self.channels or len(self.std) != self.channels:
            raise BadArgumentError(f"preprocessing: channels must be 1 or 3 with one mean and std each, got "
                                   f"channels={self.channels}, mean={self.mean}, std={self.std}")
        if not 0 < self.crop_pct <= 1 or self.size < 1:
            raise BadArgumentError(f"preprocessing: need size ≥ 1 and 0 < crop_pct ≤ 1, got {self.size}, {self.crop_pct}")

    @property
    def resize_size(self) -> int:
        """The shorter side before the centre crop."""
        return self.size if self.crop_pct == 1 else int(math.ceil(self.size / self.crop_pct))

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, self.channels, self.size, self.size)

    def at(self, size: int) -> "Preprocessing":
        """The same recipe for another input size."""
        return replace(self, size=int(size))

    def to_dict(self) -> dict[str, Any]:
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        d.update(resize_size=self.resize_size, align_corners=False, input_shape=list(self.input_shape))
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocessing":
        names = set(cls.__dataclass_fields__)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})


# Per dataset: the recipe the supernet was trained and evaluated with.
#   fashion-mnist: ofa_deploy.training.data (x / 255, bilinear straight to r, align_corners=False)
#   imagenet: the official OFA evaluation (Resize(ceil(r / 0.875)) bilinear, CenterCrop(r), RGB)
_RECIPES = {
    "fashion-mnist": dict(channels=1, resize="bilinear", crop_pct=1.0, antialias=False, source_size=28),
    "imagenet": dict(channels=3, resize="bilinear", crop_pct=0.875, antialias=True),
}


def preprocessing_for(record_or_name: Any, resolution: int | None = None) -> Preprocessing:
    """The Preprocessing of a supernet (a SupernetRecord or a name/alias) at `resolution` (default:
    the largest input the supernet takes)."""
    from .registry import get_supernet_record

    rec = get_supernet_record(record_or_name) if isinstance(record_or_name, str) else record_or_name
    recipe = _RECIPES.get(rec.dataset)
    if recipe is None:
        raise BadArgumentError(f"no preprocessing recorded for dataset {rec.dataset!r} of {rec.name}; "
                               f"known: {sorted(_RECIPES)}")
    size = int(resolution) if resolution is not None else int(rec.resolution_range[1])
    return Preprocessing(size=size, mean=tuple(rec.mean), std=tuple(rec.std), dataset=rec.dataset, **recipe)


def resolve_preprocessing(model_or_name: Any, resolution: int | None = None) -> Preprocessing:
    """Preprocessing for a deployable model (its card's record, else its supernet at its arch's
    resolution), a card, a saved card dict, or a supernet name/alias."""
    if isinstance(model_or_name, Preprocessing):
        return model_or_name if resolution is None else model_or_name.at(resolution)
    if isinstance(model_or_name, str):
        return preprocessing_for(model_or_name, resolution)
    card = getattr(model_or_name, "card", model_or_name)
    get = card.get if isinstance(card, dict) else (lambda k, default=None: getattr(card, k, default))
    arch = getattr(model_or_name, "arch", None) or get("arch")
    r = resolution
    if r is None and arch is not None:      # the model's own input size wins over a recorded default
        r = arch.get("r") if isinstance(arch, dict) else getattr(arch, "r", None)
    pre = get("preprocessing")
    if isinstance(pre, dict) and "size" in pre and "channels" in pre:
        cfg = Preprocessing.from_dict(pre)
        return cfg if r is None else cfg.at(r)
    supernet = get("supernet")
    if not supernet:
        raise BadArgumentError(f"cannot tell the preprocessing of {type(model_or_name).__name__}: pass a model from "
                               f"get_model, its card, or a supernet name such as 'tiny'")
    return preprocessing_for(supernet, r)


class Transform:
    """A Preprocessing as a callable: uint8 images (torch or numpy; [H, W], [C, H, W], [H, W, C] or
    [N, C, H, W]) → float32 [N, C, size, size]."""

    def __init__(self, cfg: Preprocessing):
        self.cfg = cfg
        self._mean = torch.tensor(cfg.mean, dtype=torch.float32)[None, :, None, None]
        self._std = torch.tensor(cfg.std, dtype=torch.float32)[None, :, None, None]

    def __repr__(self) -> str:
        c = self.cfg
        return (f"Transform({c.channels}ch ×{c.scale:.4g}, {c.resize} → {c.resize_size}, crop {c.size}, "
                f"mean={list(c.mean)}, std={list(c.std)})")

    def __call__(self, images: Any) -> torch.Tensor:
        c = self.cfg
        # a division when scale is 1/k, so results match x.float() / 255 bit for bit
        k = 1 / c.scale
        x = _as_nchw(images, c.channels).to(torch.float32)
        x = x / round(k) if abs(k - round(k)) < 1e-9 else x * c.scale
        x = _to_channels(x, c.channels)
        h, w = x.shape[-2:]
        short = c.resize_size
        if (h, w) != (short, short) or c.crop_pct != 1:
            size = (short, short) if c.crop_pct == 1 else \
                ((short, max(1, round(w * short / h))) if h <= w else (max(1, round(h * short / w)), short))
            if size != (h, w):
                kw = {} if c.resize == "nearest" else {"align_corners": False, "antialias": c.antialias}
                x = F.interpolate(x, size=size, mode=c.resize, **kw)
            top, left = (x.shape[-2] - c.size) // 2, (x.shape[-1] - c.size) // 2
            x = x[..., top:top + c.size, left:left + c.size]
        return ((x - self._mean) / self._std).contiguous()


def create_transform(cfg: Preprocessing | dict[str, Any] | Any) -> Transform:
    """The transform for a Preprocessing, its dict/JSON form, a model or a supernet name."""
    if isinstance(cfg, dict):
        cfg = Preprocessing.from_dict(cfg)
    elif not isinstance(cfg, Preprocessing):
        cfg = resolve_preprocessing(cfg)
    return Transform(cfg)


def _as_nchw(images: Any, channels: int) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else torch.as_tensor(images)
    if x.ndim == 2:
        return x[None, None]
    if x.ndim == 3:
        if x.shape[-1] in (1, 3) and x.shape[0] not in (1, 3):
            x = x.permute(2, 0, 1)                        # HWC (PIL / numpy images)
        return x[None]
    if x.ndim == 4:
        return x
    raise BadArgumentError(f"images must be [H, W], [C, H, W], [H, W, C] or [N, C, H, W], got shape {tuple(x.shape)}")


def _to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 3 and channels == 1:
        return (x * torch.tensor(_GREY)[None, :, None, None]).sum(1, keepdim=True)
    raise BadArgumentError(f"images have {x.shape[1]} channels; the model takes {channels} (1 or 3 can be converted)")
