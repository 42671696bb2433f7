"""`ofa-deploy export`: a saved model (or a published net id) to one or more artifact formats,
written beside the model by default (model.pth → export/ next to it)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import DRY_TITLE, add_json_flag, add_out_flag, comma_list, print_json, print_table, run_dir, say_dry_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a saved model to onnx / openvino / tflite / mlmodel / mlpackage / tvm")
    p.add_argument("model", help="model.pth written by `ofa-deploy get`, or a published net id")
    p.add_argument("--format", "-f", required=True, help="comma-separated formats, e.g. onnx,tflite")
    add_precision_flags(p)
    add_out_flag(p, None, "folder for the artifacts (default: export/ beside model.pth)")
    p.add_argument("--no-validate", action="store_true", help="skip the comparison with the PyTorch model")
    add_json_flag(p)
    p.set_defaults(func=_export)


def add_precision_flags(p: argparse.ArgumentParser) -> None:
    """--precision and --calib-data, the same on get, export and benchmark."""
    p.add_argument("--precision", "--precisions", dest="precision", default="fp32",
                   help="comma-separated: fp32, fp16, int8")
    p.add_argument("--calib-data", help="calibration images for int8: 'fashion-mnist' or a folder of class folders")


def default_out(model: str, name: str) -> Path:
    """<folder of model.pth>/<name> for a saved model, ./<name> for a published net id."""
    path = Path(model)
    return path.parent / name if path.is_file() else Path(name)


def _export(args) -> int:
    from ..deploy.export import check_export_request
    from ..zoo import load_model
    from .data import calibration

    formats, precisions = comma_list(args.format), comma_list(args.precision)
    out = args.out or default_out(args.model, "export")
    for prec in precisions:   # every name, precision and path before any work
        check_export_request(formats, prec, out, calibration=args.calib_data)
    out = run_dir(out, args.exist_ok)
    model = load_model(args.model)
    dry = say_dry_run(model)
    calib = calibration(args.calib_data, model)
    rows = [export_row(model, fmt, prec, out, calib, not args.no_validate) for prec in precisions for fmt in formats]
    if args.json:
        print_json(rows, "exports")
    else:
        print_table(f"exports in {out}" + (DRY_TITLE if dry else ""), ["format", "precision", "status", "path", "MB", "max |Δ|", "error"],
                    [[r["format"], r["precision"], r["status"], r["path"], r["size_mb"] or "",
                      r["max_abs_diff"] if r["max_abs_diff"] is not None else "", r["error"]] for r in rows])
    return 1 if any(r["status"] == "failed" for r in rows) else 0


def export_row(model, fmt: str, precision: str, out: Path, calib, validate: bool = True) -> dict:
    """One export as a JSON row (status ok/failed); a failure is recorded, not raised."""
    from ..deploy.export import export

    row = {"format": fmt, "precision": precision, "status": "ok", "path": "", "size_mb": None,
           "max_abs_diff": None, "error": "", "dry_run": bool(getattr(model.card, "dry_run", False))}
    try:
        art = export(model, fmt, out, precision=precision, calibration=calib, validate=validate)
    except Exception as exc:  # one failed format must not hide the others
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        return row
    parity = art.card.get("parity") or {}
    row.update(path=str(art.path), size_mb=art.size_mb, max_abs_diff=parity.get("max_abs_diff"))
    return row
