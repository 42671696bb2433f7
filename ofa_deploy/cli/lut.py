"""`ofa-deploy lut build|evaluate|show`: latency tables from the command line."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import comma_list, number_list, print_json, print_kv, print_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lut", help="build, evaluate and inspect latency lookup tables")
    verbs = p.add_subparsers(dest="lut_verb", metavar="VERB", required=True)

    b = verbs.add_parser("build", help="measure every unique op of a space (resumable) and calibrate")
    b.add_argument("--supernet", required=True, help="registry name, e.g. ofa_mbv3_w1.0 or tiny")
    b.add_argument("--backend", required=True, help="onnxruntime, openvino, tflite (adb with --serial), tvm, accel")
    b.add_argument("--resolutions", nargs="+", help="default: the space's search resolutions (spaces or commas)")
    b.add_argument("--serial", nargs="*", default=[], help="adb serials that share the build (tflite backend; "
                   "spaces or commas)")
    b.add_argument("--device", default="", help="device name recorded in the provenance (and default folder)")
    b.add_argument("--out", type=Path, help="table folder (default latency_tables/<supernet>/<device or backend>)")
    _timing_args(b)
    b.add_argument("--calibrate", type=int, default=30,
                   help="whole subnets measured for the calibration (0: none; else at least 9)")
    b.add_argument("--evaluate", type=int, default=0, help="then evaluate on this many fresh subnets")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_build)

    e = verbs.add_parser("evaluate", help="measure N subnets whole and report the table's error")
    e.add_argument("table", help="table folder or name")
    e.add_argument("--backend", required=True)
    e.add_argument("-n", type=int, default=100, help="random held-out subnets")
    e.add_argument("--searched", type=int, default=6, help="budgets across the table's range whose searched "
                   "subnets form the second held-out set (0: none)")
    e.add_argument("--serial")
    e.add_argument("--out", type=Path, help="where evaluate.json/png go (default: the table folder)")
    _timing_args(e)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_evaluate)

    a = verbs.add_parser("adapt", help="measure a few whole subnets on this host and choose the table's correction "
                         "(plain sum, linear, or a learned residual) on held-out nets")
    a.add_argument("table", help="table folder or '<supernet>/<device>'")
    a.add_argument("--backend", required=True, help="the backend the table was measured with, e.g. onnxruntime")
    a.add_argument("-n", type=int, default=20, help="whole subnets to measure (at least 9; default 20)")
    a.add_argument("--sessions", type=int, default=3, help="fresh sessions per subnet (default 3)")
    a.add_argument("--serial", help="adb serial (tflite tables measured on a device)")
    _timing_args(a, warmup=5, runs=20, min_seconds=0.05)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_adapt)

    ls = verbs.add_parser("list", help="every shipped table: supernet, resolutions, latency range, source, host")
    ls.add_argument("pattern", nargs="?", default="*", help="'<supernet>/<device>' with wildcards, e.g. '*tiny*'")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=lambda args: __import__("ofa_deploy.cli.tables", fromlist=["lut_list"]).lut_list(args))

    s = verbs.add_parser("show", help="describe a table: source, provenance, evaluation figures")
    s.add_argument("table", help="table folder, '<supernet>/<device>', 'note10', or a device name")
    s.add_argument("--supernet", help="for device names: which space (default ofa_mbv3_w1.0)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_show)


def _timing_args(p: argparse.ArgumentParser, warmup: int = 10, runs: int = 50, min_seconds: float = 0.1) -> None:
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--runs", type=int, default=runs)
    p.add_argument("--min-seconds", type=float, default=min_seconds)


def _adapt(args) -> int:
    from ..errors import BadArgumentError
    from ..latency.adapt import adapt_table

    if args.n < 9:
        raise BadArgumentError(f"-n {args.n} is too few: adaptation needs -n 9 or more (3 × its 3 parameters)")
    if args.sessions < 1:
        raise BadArgumentError(f"--sessions {args.sessions}: pass --sessions 1 or more")
    res = adapt_table(args.table, args.backend, args.n, _settings(args), args.sessions, serial=args.serial,
                      progress=True)
    if args.json:
        print_json(res.report)
        return 0
    rep = res.report
    rows = [[name, c["params"], *(_cells(c["held_out"]) if c["eligible"] else ["-"] * 5),
             "✓" if name == rep["chosen"] else c.get("note", "")] for name, c in rep["candidates"].items()]
    print_table(f"held-out nets ({rep['folds']}-fold: each net predicted by a fit without it), {rep['n']} nets",
                ["model", "params", "MAPE", "±5 %", "±10 %", "Spearman", "Kendall", "kept"], rows)
    print_kv(rep["verdict"], {"host": rep["fingerprint"]["cpu_model"] + f" [{rep['fingerprint']['id']}]",
                              "stored": str(res.path)})
    return 0


def _cells(m: dict) -> list[str]:
    return [f"{m['mape']:.1f} %", f"{m['within_5pct']:.0f} %", f"{m['within_10pct']:.0f} %",
            f"{m['spearman']:.3f}", f"{m['kendall']:.3f}"]


def _settings(args):
    from ..deploy.base import MeasureSettings

    return MeasureSettings(threads=args.threads, warmup=args.warmup, runs=args.runs, min_seconds=args.min_seconds)


def _build(args) -> int:
    from ..latency.builder import build_table
    from ..latency.evaluate import evaluate_table
    from ..registry import get_supernet_record

    sn = get_supernet_record(args.supernet).name
    out = args.out or Path("latency_tables") / sn / (args.device or args.backend)
    serials = [w for v in args.serial for w in comma_list(v)]
    table = build_table(sn, args.backend, out, number_list(args.resolutions, int, "--resolutions"), _settings(args),
                        serials, args.calibrate, device=args.device)
    report = evaluate_table(table, out, args.backend, args.evaluate, _settings(args),
                            serials[0] if serials else None) if args.evaluate else None
    if args.json:
        c = table.calibration
        print_json({"table": str(out), **table.describe(), "evaluation": report and report["calibrated"],
                    "calibration": c and {"n_subnets": c.n_subnets, "mape_sum_of_ops": c.mape_before,
                                          "mape_calibrated": c.mape_after}})
        return 0
    print_kv(f"table written to {out}", table.describe())
    if table.calibration:
        c = table.calibration
        print(f"calibration on {c.n_subnets} subnets: MAPE {c.mape_before:.1f}% (sum of ops) → {c.mape_after:.1f}%")
    if report:
        print_kv("evaluation", report["calibrated"])
    return 0


def _evaluate(args) -> int:
    from ..latency import load_latency_table
    from ..latency.evaluate import evaluate_table

    table = load_latency_table(args.table)
    out = args.out or (Path(args.table) if Path(args.table).is_dir() else
                       Path("evaluate_out") / table.name.replace("/", "_").replace(" ", "_"))
    report = evaluate_table(table, out, args.backend, args.n, _settings(args), args.serial, searched=args.searched)
    if args.json:
        print_json(report)
    else:
        for what, rep in (("random", report), ("searched", report.get("searched"))):
            if rep:
                how = f" (searched for {rep['objective']})" if rep.get("objective") else ""
                print_table(f"{table.name}: {rep['calibrated']['n']} {what} held-out subnets{how}, measured here",
                            ["predictor", "MAPE", "±5 %", "±10 %", "Spearman", "Kendall"],
                            [[name, *_cells(m)] for name, m in rep["models"].items()])
        print_kv("test-retest spread of the measurements", report["test_retest"])
        print(f"method: {report['method']}")
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
