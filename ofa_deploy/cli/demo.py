"""`ofa-deploy demo`: the whole mission on the embedded supernet, offline (see ofa_deploy.demo)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_json_flag, add_out_flag, comma_list, print_json, run_dir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="budget → best subnet → every export → benchmark → Pareto plot, offline")
    add_out_flag(p, Path("demo_out"), "the one folder everything goes to")
    p.add_argument("--device", default="onnxruntime-cpu", help="local device whose latency the budget is for")
    p.add_argument("--fraction", type=float, default=0.4,
                   help="budget as a fraction of the way from the smallest to the largest subnet's latency")
    p.add_argument("--runs", type=int, default=100, help="timed runs per backend")
    p.add_argument("--backends", default="onnxruntime,openvino,tflite,coreml,tvm,executorch", help="comma-separated")
    add_json_flag(p)
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    from ..demo import run_demo

    summary = run_demo(run_dir(args.out, args.exist_ok), args.device, args.fraction, args.runs,
                       tuple(comma_list(args.backends)))
    if args.json:
        print_json(summary)
    return 0  # a backend that failed is a ❌ row in the benchmark table, as intended
