"""Collect the official specialized nets (net.config + run.config + the figures their ids carry)
into one package data file, so the published (arch, latency, top-1) pairs ship with ofa_deploy.

    python tools/import_specialized_nets.py [--reference ../shared/reference/ofa_specialized]
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ofa_deploy.fileio import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "ofa_deploy" / "data" / "specialized_nets.json"
ID_RE = re.compile(r"^(?:(?P<device>.+?)_(?P<kind>lat|gpu\d+)-(?P<ms>[\d.]+)ms|flops-(?P<flops>[\d.]+)M)"
                   r"_top1-(?P<top1>[\d.]+)_finetune-(?P<ft>\d+)$")


def parse_dir(d: Path) -> dict:
    m = ID_RE.match(d.name)
    if not m:
        raise ValueError(f"{d.name}: not an official specialized-net id (device_lat-Xms_top1-Y_finetune-Z)")
    cfg = json.loads((d / "net.config").read_text())
    run = json.loads((d / "run.config").read_text())
    return {
        "net_id": re.sub(r"(lat|gpu\d+|top1|finetune|flops)-", r"\1@", d.name),  # official id spells '@'
        "dir": d.name,
        "device": None if m["device"] is None else m["device"] if m["kind"] == "lat" else f"{m['device']}_{m['kind']}",
        "latency_ms": float(m["ms"]) if m["ms"] else None,
        "flops_m": float(m["flops"]) if m["flops"] else None,
        "top1": float(m["top1"]),
        "finetune_epochs": int(m["ft"]),
        "image_size": int(run["image_size"]),
        "net_config": cfg,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, default=REPO.parent / "shared" / "reference" / "ofa_specialized")
    args = p.parse_args()
    nets = [parse_dir(d) for d in sorted(args.reference.iterdir()) if (d / "net.config").exists()]
    atomic_write_json(OUT, {"source": "mit-han-lab/once-for-all published specialized nets (MIT licence)",
                            "nets": nets}, indent=None)
    print(f"wrote {len(nets)} nets to {OUT.relative_to(REPO)} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
