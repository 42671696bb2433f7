"""`ofa-deploy export`: a saved model (or a published net id) to one or more artifact formats."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import print_json, print_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a saved model to onnx / openvino / tflite / mlmodel / mlpackage / tvm")
    p.add_argument("model", help="model.pth written by `ofa-deploy get`, or a published net id")
    p.add_argument("--format", "-f", required=True, help="comma-separated formats, e.g. onnx,tflite")
    p.add_argument("--precision", default="fp32", help="fp32, fp16 or int8")
    p.add_argument("--out", type=Path, default=Path("export"))
    p.add_argument("--no-validate", action="store_true", help="skip the comparison with the PyTorch model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_export)


def _export(args) -> int:
    from ..deploy.export import export
    from ..zoo import load_model

    model = load_model(args.model)
    rows, failed = [], False
    for fmt in [f.strip() for f in args.format.split(",") if f.strip()]:
        try:
            art = export(model, fmt, args.out, precision=args.precision, validate=not args.no_validate)
            parity = art.card.get("parity") or {}
            rows.append({"format": fmt, "status": "ok", "path": str(art.path), "size_mb": art.size_mb,
                         "max_abs_diff": parity.get("max_abs_diff")})
        except Exception as exc:  # one failed format must not hide the others
            failed = True
            rows.append({"format": fmt, "status": f"failed: {type(exc).__name__}: {exc}", "path": "",
                         "size_mb": None, "max_abs_diff": None})
    if args.json:
        print_json(rows)
    else:
        print_table("exports", ["format", "status", "path", "MB", "max |Δ|"],
                    [[r["format"], r["status"][:80], r["path"], r["size_mb"] or "", r["max_abs_diff"] or ""]
                     for r in rows])
    return 1 if failed else 0
