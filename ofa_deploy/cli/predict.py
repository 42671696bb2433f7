"""`ofa-deploy predict`: one arch's predicted latency, accuracy, MACs and params, without a search.
The arch is written as every table and card prints it (r28-d123-k…-e…) or as JSON."""
from __future__ import annotations

import argparse

from .common import add_json_flag, print_json, print_kv


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict one arch's latency and accuracy (no search)")
    p.add_argument("--arch", required=True,
                   help="the arch as printed (e.g. r28-d123-k357357357-e346346346) or JSON {\"ks\": …}")
    p.add_argument("--supernet", default="ofa_mbv3_d234_e346_k357_w1.0", help="registry name (ofa-deploy models)")
    p.add_argument("--device", help="device whose latency source to use (ofa-deploy devices)")
    p.add_argument("--latency-table", help="table folder or name (instead of the device's own source)")
    p.add_argument("--accuracy-predictor", help="checkpoint path, asset name or 'macs'")
    add_json_flag(p)
    p.set_defaults(func=_predict)


def predict_arch(supernet: str, arch: str, device: str | None = None, latency_table: str | None = None,
                 accuracy_predictor: str | None = None) -> dict:
    """The prediction record the verb prints (also for scripts)."""
    import numpy as np

    from ..accuracy import load_accuracy_predictor
    from ..arch import ArchBatch, ArchConfig
    from ..profile import count_macs, count_params
    from ..registry import get_supernet_record
    from ..search.resolve import latency_model

    record = get_supernet_record(supernet)
    cfg = ArchConfig.coerce(arch, record.space)   # validated: a wrong gene names itself
    batch = ArchBatch.from_archs(record.space, [cfg])
    acc = load_accuracy_predictor(accuracy_predictor, record.name)
    proxy = getattr(acc, "source", None) == "proxy"
    out = {"status": "estimated", "supernet": record.name, "arch": cfg.short(),
           "predicted_top1": float(np.asarray(acc.predict(batch))[0]), "predicted_top1_is_proxy": proxy,
           "accuracy_source": getattr(acc, "source", None) or str(accuracy_predictor or "shipped predictor"),
           "macs": int(count_macs(record.name, cfg)), "params": int(count_params(record.name, cfg))}
    if proxy:   # another space's predictor, or MACs: it ranks archs, it is not this space's top-1
        out["accuracy_note"] = (getattr(acc, "provenance", {}) or {}).get("note") or "a ranking proxy, not a top-1"
    lat, info = latency_model(record.name, device, latency_table)
    if lat is not None:
        out.update(predicted_latency_ms=float(np.asarray(lat.predict(batch), dtype=np.float64)[0]),
                   device=info.get("device"), latency_source=info.get("source"))
    return out


def _predict(args) -> int:
    out = predict_arch(args.supernet, args.arch, args.device, args.latency_table, args.accuracy_predictor)
    if args.json:
        print_json(out)
    else:
        print_kv(f"predicted for {out['arch']} ({out['supernet']})", out)
    return 0
