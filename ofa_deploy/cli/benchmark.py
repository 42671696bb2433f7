"""`ofa-deploy benchmark`: export a model to every backend, validate and time it; one table,
failures recorded in its Status column."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="export + validate + measure on several backends, as one table")
    p.add_argument("model", help="model.pth written by `ofa-deploy get`, or a published net id")
    p.add_argument("--backends", help="comma-separated (default: every installed backend that measures here)")
    p.add_argument("--precisions", default="fp32", help="comma-separated: fp32,fp16,int8")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-seconds", type=float, default=0.0)
    p.add_argument("--mlperf", action="store_true", help="≥1024 runs and ≥60 s, p90 headline")
    p.add_argument("--serial", help="adb serial for the tflite backend's on-device runs")
    p.add_argument("--out", type=Path, default=Path("benchmark_out"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_benchmark)


def _benchmark(args) -> int:
    from ..deploy.base import MeasureSettings
    from ..deploy.benchmark import benchmark
    from ..zoo import load_model

    settings = MeasureSettings(threads=args.threads, warmup=args.warmup, runs=args.runs,
                               min_seconds=args.min_seconds, mode="mlperf" if args.mlperf else "default",
                               options={"serial": args.serial} if args.serial else {})
    backends = [b.strip() for b in args.backends.split(",")] if args.backends else None
    result = benchmark(load_model(args.model), backends=backends,
                       precisions=[p.strip() for p in args.precisions.split(",")], settings=settings,
                       out_dir=args.out, progress=not args.json)
    if args.json:
        print_json(result.to_dicts())
    return 0 if result.ok else 1
