"""Does the subnet get_model returns meet its budget when measured here? For each (space, device)
and 6 budgets spanning the table's range: the unverified pick (verify=False) and the verified one
(verify=True) side by side — budget, predicted ms, measured median ± spread (3 fresh sessions × 100
runs, 1 thread: the verify method), over?, predicted top-1. Random weights (pretrained=False): the
latency of a net does not depend on its weights.

    nice -n 10 python tools/bench_budget.py --space tiny --devices onnxruntime-cpu,openvino-cpu,litert-cpu
    nice -n 10 python tools/bench_budget.py --space w1.0 --devices onnxruntime-cpu,openvino-cpu
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

SPACES = {"tiny": "ofa_tiny_d123_e346_k357", "w1.0": "ofa_mbv3_d234_e346_k357_w1.0"}


def budgets(table, space, n: int) -> list[float]:
    """n budgets from just above the smallest predicted subnet to just below the largest."""
    from ofa_deploy.arch import ArchBatch
    from ofa_deploy.search import smallest_value

    lo = smallest_value(table, space, space.resolutions)[0]
    hi = float(np.max(table.predict(ArchBatch.from_archs(space, [space.largest(r) for r in space.resolutions]))))
    return [round(lo + f * (hi - lo), 4) for f in np.linspace(0.15, 0.9, n)]


def _top1(model):
    acc = model.card.predicted_accuracy or {}
    return acc.get("top1") if acc.get("is_accuracy", True) else None   # a MACs-proxy score is no top-1


def one_budget(supernet: str, device: str, budget: float, accuracy_predictor=None) -> dict:
    from ofa_deploy import get_model
    from ofa_deploy.registry import DEVICES
    from ofa_deploy.verify import VerificationError, VerifyConfig, measure_model, measuring_backend

    kw = dict(pretrained=False, calib_data=None, progress=False, cache=False, accuracy_predictor=accuracy_predictor)
    plain = get_model(device, budget, supernet, verify=False, **kw)
    m = measure_model(plain, measuring_backend(device), DEVICES.get(device).settings, VerifyConfig())
    row = {"budget": budget, "plain": {"predicted": plain.card.predicted_latency["ms"], "median": m.median,
                                       "spread": m.spread, "top1": _top1(plain),
                                       "arch": plain.arch.short()}}
    t0 = time.perf_counter()
    try:
        ver = get_model(device, budget, supernet, verify=True, **kw)
        v = ver.card.verification
        row["verified"] = {"predicted": ver.card.predicted_latency["ms"], "median": v["median_ms"],
                           "spread": v["spread"], "rounds": v["rounds"], "arch": ver.arch.short(),
                           "top1": _top1(ver)}
    except VerificationError as exc:
        row["verified"] = {"error": str(exc), "median": exc.best_ms, "rounds": len(exc.rounds), "spread": None,
                           "predicted": None, "top1": None}
    row["verified"]["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def table(rows: list[dict], title: str) -> str:
    f = lambda v, p=3: "–" if v is None else f"{v:.{p}f}"
    top = lambda v: "–" if v is None else f"{100 * v:.2f}"
    over = lambda r: "–" if r["median"] is None else ("⚠ over" if r["median"] > r["_b"] else "ok")
    out = [f"### {title}", "",
           "| budget ms | pred ms | measured ms ± spread | over? | pred top-1 % | verified: pred ms | "
           "measured ms ± spread | over? | rounds | pred top-1 % |",
           "|---:|---:|---:|:--:|---:|---:|---:|:--:|---:|---:|"]
    for r in rows:
        p, v = dict(r["plain"], _b=r["budget"]), dict(r["verified"], _b=r["budget"])
        spread = lambda x: f"{f(x['median'])} ± {100 * x['spread']:.1f}%" if x.get("spread") is not None \
            else f(x["median"]) + (" (best; none verified)" if "error" in x else "")
        out.append(f"| {r['budget']:g} | {f(p['predicted'])} | {spread(p)} | {over(p)} | {top(p['top1'])} | "
                   f"{f(v['predicted'])} | {spread(v)} | {over(v)} | {v['rounds']} | {top(v['top1'])} |")
    ok_p = sum(r["plain"]["median"] <= r["budget"] for r in rows)
    ok_v = sum(r["verified"]["median"] is not None and r["verified"]["median"] <= r["budget"]
               and "error" not in r["verified"] for r in rows)
    lost = [r["plain"]["top1"] - r["verified"]["top1"] for r in rows
            if r["plain"]["top1"] is not None and r["verified"].get("top1") is not None]
    given = f"; predicted top-1 given up by verify: {100 * np.mean(lost):.2f} points on average" if lost else ""
    out += ["", f"within budget: unverified {ok_p}/{len(rows)}, verified {ok_v}/{len(rows)}{given}"]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", choices=sorted(SPACES), default="tiny")
    ap.add_argument("--devices", default="onnxruntime-cpu,openvino-cpu,litert-cpu")
    ap.add_argument("--budgets", type=int, default=6)
    ap.add_argument("--accuracy-predictor", help="'macs' where the space's predictor is not on this machine "
                                                "(offline w1.0: the official w1.2 predictor is downloaded)")
    ap.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from ofa_deploy.latency import predictor_for_device
    from ofa_deploy.registry import get_supernet_record

    supernet = SPACES[args.space]
    space = get_supernet_record(supernet).space
    report = {}
    for device in [d.strip() for d in args.devices.split(",") if d.strip()]:
        rows = [one_budget(supernet, device, b, args.accuracy_predictor) for b in budgets(predictor_for_device(device, supernet), space,
                                                                 args.budgets)]
        report[device] = rows
        print(table(rows, f"{args.space} on {device}"), "\n", flush=True)
    if args.out:
        from ofa_deploy.fileio import atomic_write_json

        atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
