"""`ofa_deploy.export(model, format, out_dir)`: convert, validate against PyTorch, attach the
model card — each step one ✅/❌ log line."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from . import backend_for_format
from .base import Artifact
from .card import model_card
from ..log import step
from .inputs import check_calibration, check_input
from .validate import validate_outputs
from ..errors import BadArgumentError
from ..fileio import make_dirs


def input_shape_of(model: torch.nn.Module, example_input: torch.Tensor | None = None) -> tuple[int, ...]:
    """NCHW input shape: from the example input, `model.input_shape`, or the model card."""
    if example_input is not None:
        return tuple(example_input.shape)
    shape = getattr(model, "input_shape", None)
    if shape:
        return tuple(shape)
    card = getattr(model, "card", None) or {}
    if "resolution" in card:
        r = card["resolution"]
        return (1, card.get("in_channels", 3), r, r)
    raise BadArgumentError("cannot tell the model's input shape: pass example_input=torch.randn(1, C, H, W), or give "
                     "the model an `input_shape` attribute (models from get_model carry one)")


def check_export_request(formats, precision: str, out_dir: str | Path, options: dict[str, Any] | None = None,
                         calibration: Any = ...) -> list:
    """Validate a whole export request before any export starts: every format name, its runtime,
    the precision for each, the output path, the options and (when `calibration` is given, None
    meaning none) that a precision needing calibration data has some. Returns the backends, in order."""
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    if not formats:
        raise BadArgumentError("no export format given; pass format= (e.g. 'onnx')", "format")
    backends = [backend_for_format(f) for f in formats]  # unknown names fail here, with suggestions
    for b in backends:
        b.check()
        b.check_precision(precision)
        b.check_options(options or {})
        if calibration is None and precision in getattr(b, "calibrated", ()):
            raise BadArgumentError(f"{b.name} {precision} export needs calibration data: pass calibration=<images> "
                                   "(a few hundred real images, e.g. from your validation set)", "calibration")
    out = Path(out_dir)
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            raise BadArgumentError(f"cannot export into {out}: {p} is a file, not a folder; pass another out_dir=",
                                   "out_dir")
    return backends


def artifact_stem(model: torch.nn.Module, precision: str) -> str:
    card = getattr(model, "card", None) or {}
    base = card.get("name") or type(model).__name__.lower()
    return f"{base}_{precision}"


def export(model: torch.nn.Module, format: str, out_dir: str | Path, precision: str = "fp32",
           example_input: torch.Tensor | None = None, calibration=None, validate: bool = True,
           card: dict[str, Any] | None = None, name: str | None = None, **options) -> Artifact:
    """Export `model` to `format` ('onnx', 'openvino', 'tflite', 'mlmodel', 'mlpackage', 'tvm', …) under
    out_dir; by default validate it against the PyTorch model and fail above tolerance (fp32)."""
    backend = check_export_request([format], precision, out_dir, options, calibration)[0]
    fmt = format.lower().lstrip(".")
    fmt = fmt if fmt in backend.formats else backend.formats[0]
    shape = input_shape_of(model, example_input)
    check_input(model, example_input, shape)
    check_calibration(model, calibration)
    example = example_input if example_input is not None else torch.randn(shape, generator=torch.Generator().manual_seed(0))
    out_dir = make_dirs(out_dir, "export folder")
    model = model.eval()
    with step(backend.name, "export") as s:
        art = backend.export(model, example, out_dir, precision=precision, format=fmt, calibration=calibration,
                             name=name or artifact_stem(model, precision), **options)
        s.path, s.size_mb = art.path, art.size_mb
    art.card = model_card(model, art, backend.versions(), card)
    if validate:
        _validate(model, backend, art)
    if backend.embed_card(art, art.card):
        art.card = model_card(model, art, backend.versions(), {**(card or {}), **_kept(art.card)})
    art.save_sidecar()
    return art


def _kept(card: dict[str, Any]) -> dict[str, Any]:
    return {k: card[k] for k in ("parity", "spec_check") if k in card}


def _validate(model: torch.nn.Module, backend, art: Artifact) -> None:
    if backend.can_run(art):
        with step(backend.name, "validate") as s:
            parity = validate_outputs(model, backend, art)
            s.detail = parity.summary() + ("" if parity.atol else f" ({art.precision}: reported, not enforced)")
        art.card["parity"] = parity.to_dict()
    else:
        with step(backend.name, "spec check") as s:
            info = backend.validate_artifact(art)
            s.detail = "cannot run on this host; " + ", ".join(f"{k}={v}" for k, v in info.items())
        art.card["spec_check"] = info
