"""Build, calibrate and evaluate every latency table we ship, on this host (run it on a quiet
machine: the tables are only as good as the timings). Resumable: rerun after a kill.

    python tools/build_latency_tables.py                 # everything below
    python tools/build_latency_tables.py --only tiny     # one supernet
    python tools/build_latency_tables.py --devices onnxruntime-cpu
    python tools/build_latency_tables.py --only tiny --devices executorch-cpu --calibrate 30 --evaluate 40

LiteRT and ExecuTorch convert ops in batches (one multi-signature .tflite / multi-method .pte per
24 ops, BackendBase.export_batch) and still time each op alone; their conversions dominate the
build (≈7–15 s per op on a loaded 2-core host), so start them last.

Writes latency_tables/<supernet>/<device>/{<res>_lookup_table.yaml, provenance.json,
evaluate.json, evaluate.png, journal.jsonl} and prints one summary table.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.latency.builder import build_table
from ofa_deploy.latency.evaluate import evaluate_table
from ofa_deploy.registry import DEVICES, get_supernet_record

REPO = Path(__file__).resolve().parents[1]
SUPERNETS = {"w1.0": "ofa_mbv3_d234_e346_k357_w1.0", "tiny": "ofa_tiny_d123_e346_k357"}
DEVICES_SHIPPED = ("onnxruntime-cpu", "openvino-cpu", "litert-cpu", "executorch-cpu")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(SUPERNETS), nargs="*")
    p.add_argument("--devices", nargs="*", default=list(DEVICES_SHIPPED))
    p.add_argument("--calibrate", type=int, default=40)
    p.add_argument("--evaluate", type=int, default=100)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--searched", type=int, default=10,
                   help="also evaluate the subnets the search returns at this many budgets across the range")
    args = p.parse_args()
    settings = MeasureSettings(threads=1, warmup=10, runs=args.runs, min_seconds=0.1)
    rows = []
    for short in args.only or SUPERNETS:
        sn = get_supernet_record(SUPERNETS[short]).name
        for dev in args.devices:
            rec = DEVICES.get(dev)
            out = REPO / "latency_tables" / sn / rec.name
            t0 = time.time()
            table = build_table(sn, rec.backend, out, settings=settings, calibrate=args.calibrate, device=rec.name)
            built = time.time() - t0
            report = evaluate_table(table, out, rec.backend, args.evaluate, settings, searched=args.searched)
            c, s = report["calibrated"], report["sum_of_ops"]
            rows.append((short, dev, table.provenance["ops_measured"], table.provenance["build_seconds_ops"],
                         round(built), s["within_10pct"], c["within_5pct"], c["within_10pct"], c["mape"],
                         c["spearman"], c["kendall"]))
    from ofa_deploy.cli.common import print_table

    print_table("Shipped latency tables (this run)",
                ["space", "device", "ops", "ops s", "build s", "sum ±10%", "±5%", "±10%", "MAPE %", "Spearman",
                 "Kendall"], rows)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
