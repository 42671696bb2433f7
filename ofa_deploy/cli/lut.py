"""`ofa-deploy lut build|evaluate|show`: latency tables from the command line."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import print_json, print_kv


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lut", help="build, evaluate and inspect latency lookup tables")
    verbs = p.add_subparsers(dest="lut_verb", metavar="VERB", required=True)

    b = verbs.add_parser("build", help="measure every unique op of a space (resumable) and calibrate")
    b.add_argument("--supernet", required=True, help="registry name, e.g. ofa_mbv3_w1.0 or tiny")
    b.add_argument("--backend", required=True, help="onnxruntime, openvino, tflite (adb with --serial), tvm, accel")
    b.add_argument("--resolutions", type=int, nargs="+", help="default: the space's search resolutions")
    b.add_argument("--serial", nargs="*", default=[], help="adb serials that share the build (tflite backend)")
    b.add_argument("--device", default="", help="device name recorded in the provenance (and default folder)")
    b.add_argument("--out", type=Path, help="table folder (default latency_tables/<supernet>/<device or backend>)")
    _timing_args(b)
    b.add_argument("--calibrate", type=int, default=30, help="whole subnets measured for the calibration (0: none)")
    b.add_argument("--evaluate", type=int, default=0, help="then evaluate on this many fresh subnets")
    b.set_defaults(func=_build)

    e = verbs.add_parser("evaluate", help="measure N subnets whole and report the table's error")
    e.add_argument("table", help="table folder or name")
    e.add_argument("--backend", required=True)
    e.add_argument("-n", type=int, default=100)
    e.add_argument("--serial")
    e.add_argument("--out", type=Path, help="where evaluate.json/png go (default: the table folder)")
    _timing_args(e)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_evaluate)

    s = verbs.add_parser("show", help="describe a table: source, provenance, evaluation figures")
    s.add_argument("table", help="table folder, '<supernet>/<device>', 'note10', or a device name")
    s.add_argument("--supernet", help="for device names: which space (default ofa_mbv3_w1.0)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_show)


def _timing_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-seconds", type=float, default=0.1)


def _settings(args):
    from ..deploy.base import MeasureSettings

    return MeasureSettings(threads=args.threads, warmup=args.warmup, runs=args.runs, min_seconds=args.min_seconds)


def _build(args) -> int:
    from ..latency.builder import build_table
    from ..latency.evaluate import evaluate_table
    from ..registry import get_supernet_record

    sn = get_supernet_record(args.supernet).name
    out = args.out or Path("latency_tables") / sn / (args.device or args.backend)
    table = build_table(sn, args.backend, out, args.resolutions, _settings(args), args.serial, args.calibrate,
                        device=args.device)
    print_kv(f"table written to {out}", table.describe())
    if table.calibration:
        c = table.calibration
        print(f"calibration on {c.n_subnets} subnets: MAPE {c.mape_before:.1f}% (sum of ops) → {c.mape_after:.1f}%")
    if args.evaluate:
        report = evaluate_table(table, out, args.backend, args.evaluate, _settings(args),
                                args.serial[0] if args.serial else None)
        print_kv("evaluation", report["calibrated"])
    return 0


def _evaluate(args) -> int:
    from ..latency import load_latency_table
    from ..latency.evaluate import evaluate_table

    table = load_latency_table(args.table)
    out = args.out or Path(args.table)
    report = evaluate_table(table, out, args.backend, args.n, _settings(args), args.serial)
    if args.json:
        print_json(report)
    else:
        print_kv(f"{table.name}: calibrated prediction", report["calibrated"])
        print_kv("sum of ops (official rule)", report["sum_of_ops"])
        print(f"scatter plot: {out / 'evaluate.png'}")
    return 0


def _show(args) -> int:
    from ..latency import load_latency_table

    t = load_latency_table(args.table, args.supernet)
    info = t.describe() if hasattr(t, "describe") else {"name": t.name, "supernet": t.supernet, "source": t.source}
    info["provenance"] = t.provenance
    folder = Path(args.table)
    if (folder / "evaluate.json").exists():
        info["evaluate"] = json.loads((folder / "evaluate.json").read_text())["calibrated"]
    if args.json:
        print_json(info)
    else:
        print_kv(info.pop("name", str(args.table)), info)
    return 0
