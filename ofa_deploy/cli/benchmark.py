"""`ofa-deploy benchmark`: export a model to every backend, validate and time it; one table,
failures recorded in its Status column; `--data` adds each exported format's top-1 on real images."""
from __future__ import annotations

import argparse

from .common import DRY_TITLE, add_json_flag, add_out_flag, comma_list, print_json, print_table, run_dir, say_dry_run
from .export import add_precision_flags, default_out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="export + validate + measure on several backends, as one table")
    p.add_argument("model", help="model.pth written by `ofa-deploy get`, or a published net id")
    p.add_argument("--backends", help="comma-separated (default: every installed backend that measures here; "
                                      "estimate-only ones such as accel only when named)")
    add_precision_flags(p)
    p.add_argument("--threads", type=int, default=1, help="threads per runtime")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first")
    p.add_argument("--runs", type=int, default=50, help="timed runs per backend")
    p.add_argument("--min-seconds", type=float, default=0.0, help="time at least this long")
    p.add_argument("--mlperf", action="store_true", help="≥1024 runs and ≥60 s, p90 headline")
    p.add_argument("--serial", help="adb serial for the tflite backend's on-device runs")
    p.add_argument("--data", help="top-1 of every exported format on real images: 'fashion-mnist' or a folder")
    p.add_argument("--images", type=int, default=1000, help="how many --data images to score")
    add_out_flag(p, None, "folder for artifacts and benchmark.csv/json (default: benchmark/ beside model.pth)")
    add_json_flag(p)
    p.set_defaults(func=_benchmark)


def status_word(row: dict) -> str:
    """The JSON status vocabulary (ok / failed / skipped / estimated) of a benchmark row."""
    text = row["status"]
    if text.startswith("❌"):
        return "failed"
    if text.startswith("➖"):
        return "skipped"
    lat = row.get("latency") or {}   # estimate-only backends (accel) say so in the status, settings or device
    estimate = "estimate" in text or (lat.get("settings") or {}).get("estimate") or "estimate" in str(lat.get("device"))
    return "estimated" if estimate else "ok"


def top1_on(backend_name: str, artifact_path: str, data_batches) -> float | None:
    """Top-1 of an artifact on (images, labels) batches, one image at a time (static batch-1 graphs);
    None when this host cannot run it."""
    import numpy as np

    from ..deploy import get_backend
    from ..deploy.base import Artifact

    backend = get_backend(backend_name)
    try:
        art = Artifact.load(artifact_path)
    except Exception:  # noqa: BLE001 - an artifact we cannot reload (estimate-only sidecars) is not scored
        return None
    if not backend.can_run(art):
        return None
    hits = n = 0
    for x, y in data_batches:
        for i in range(len(x)):
            logits = np.asarray(backend.run(art, x[i:i + 1].numpy()))
            hits += int(logits.reshape(-1).argmax() == int(y[i]))
            n += 1
    return hits / n if n else None


def _benchmark(args) -> int:
    from ..deploy.base import MeasureSettings
    from ..deploy.benchmark import benchmark
    from ..zoo import load_model
    from .data import batches, calibration

    if args.threads < 1 or args.runs < 1 or args.warmup < 0 or args.images < 1:
        from ..errors import BadArgumentError

        raise BadArgumentError("--threads, --runs and --images must be ≥ 1 and --warmup ≥ 0")
    settings = MeasureSettings(threads=args.threads, warmup=args.warmup, runs=args.runs,
                               min_seconds=args.min_seconds, mode="mlperf" if args.mlperf else "default",
                               options={"serial": args.serial} if args.serial else {})
    out = run_dir(args.out or default_out(args.model, "benchmark"), args.exist_ok)
    model = load_model(args.model)
    dry = say_dry_run(model)
    result = benchmark(model, backends=comma_list(args.backends) or None, precisions=comma_list(args.precision),
                       settings=settings, calibration=calibration(args.calib_data, model), out_dir=out,
                       progress=False)
    if not args.json:
        result.print("Benchmark" + (DRY_TITLE if dry else ""))
    rows = result.to_dicts()
    for r in rows:
        r.update(detail=r["status"], status=status_word(r), dry_run=dry)
        if args.data and r["artifact"] and r["status"] != "failed":
            r["data_top1"] = top1_on(r["backend"], r["artifact"], batches(args.data, model, args.images))
    if args.data:
        torch_top1 = _torch_top1(model, batches(args.data, model, args.images))
        if not args.json:
            print_table(f"top-1 on {args.images} {args.data} images" + (DRY_TITLE if dry else ""),
                        ["backend", "precision", "top-1 %"],
                        [["pytorch", "fp32", 100 * torch_top1]] +
                        [[r["backend"], r["precision"], "" if r.get("data_top1") is None else 100 * r["data_top1"]]
                         for r in rows])
    if args.json:
        print_json(rows, "results")
    return 0 if result.ok else 1


def _torch_top1(model, data_batches) -> float:
    import torch

    hits = n = 0
    with torch.no_grad():
        for x, y in data_batches:
            hits += int((model(x).argmax(1) == y).sum())
            n += len(y)
    return hits / n
