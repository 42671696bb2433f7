"""`ofa-deploy demo`: the whole mission on the embedded supernet, offline (see ofa_deploy.demo)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="budget → best subnet → every export → benchmark → Pareto plot, offline")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="the one folder everything goes to")
    p.add_argument("--device", default="onnxruntime-cpu", help="local device whose latency the budget is for")
    p.add_argument("--fraction", type=float, default=0.4,
                   help="budget as a fraction of the way from the smallest to the largest subnet's latency")
    p.add_argument("--runs", type=int, default=100, help="timed runs per backend")
    p.add_argument("--backends", default="onnxruntime,openvino,tflite,coreml,tvm")
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    from ..demo import run_demo

    run_demo(args.out, args.device, args.fraction, args.runs,
             tuple(b.strip() for b in args.backends.split(",") if b.strip()))
    return 0  # a backend that failed is a ❌ row in the benchmark table, as intended
