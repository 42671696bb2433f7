"""`ofa-deploy models | devices | backends | get`: what the registry knows, and the front door."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import console, print_json, print_kv, print_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="list supernets and published specialized nets (wildcards)")
    m.add_argument("pattern", nargs="?", default="*", help="e.g. '*pixel1*' or 'ofa_mbv3*'")
    m.add_argument("--kind", choices=("all", "supernet", "specialized"), default="all")
    m.add_argument("--pretrained", action="store_true", help="only names with registered weights")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=_models)

    d = sub.add_parser("devices", help="list deployment targets and where their latency numbers come from")
    d.add_argument("pattern", nargs="?", default="*")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_devices)

    b = sub.add_parser("backends", help="list backend plugins and whether their runtime is installed")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_backends)

    g = sub.add_parser("get", help="search, extract and save the best subnet for a device and budget")
    g.add_argument("--device", required=True, help="device name (ofa-deploy devices) or a published net id")
    g.add_argument("--latency", type=float, help="latency budget in ms on the device")
    g.add_argument("--supernet", default="ofa_mbv3_d234_e346_k357_w1.0", help="registry name (ofa-deploy models)")
    add_model_source_args(g)
    g.add_argument("--prefer-published", action="store_true", help="return a published net when it fits better")
    g.add_argument("--export", default="", help="comma-separated formats to export to, e.g. onnx,tflite,mlmodel")
    g.add_argument("--precision", default="fp32", help="export precision: fp32, fp16 or int8")
    g.add_argument("--out", type=Path, default=Path("ofa_model"), help="folder for model.pth, card.json, exports")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=_get)


def add_model_source_args(p: argparse.ArgumentParser) -> None:
    """Options shared by `get` and `search`: constraints, predictors, tables, weights, seed."""
    p.add_argument("--macs", type=float, help="MACs limit, e.g. 300e6")
    p.add_argument("--params", type=float, help="parameter limit, e.g. 5e6")
    p.add_argument("--accuracy-predictor", help="checkpoint path, asset name or 'macs'")
    p.add_argument("--latency-table", help="table folder or name (instead of the device's own source)")
    p.add_argument("--resolutions", type=int, nargs="+", help="input resolutions to search")
    p.add_argument("--weights", help="supernet checkpoint path (instead of the hub)")
    p.add_argument("--no-pretrained", action="store_true", help="random weights (a dry run)")
    p.add_argument("--seed", type=int, default=0)


def _models(args) -> int:
    from ..registry import SPECIALIZED, SUPERNETS
    from ..zoo import list_models

    names = list_models(args.pattern, args.kind, args.pretrained)
    rows = []
    for n in names:
        if n in SUPERNETS:
            r = SUPERNETS.get(n)
            rows.append({"name": n, "kind": "supernet", "device": "", "latency_ms": None, "top1": None,
                         "resolution": f"{r.space.min_resolution}-{r.space.max_resolution}",
                         "weights": "embedded" if r.embedded else ("hub" if r.weights else "none"),
                         "description": r.description})
        else:
            r = SPECIALIZED.get(n)
            rows.append({"name": n, "kind": "published", "device": r.device, "latency_ms": r.latency_ms,
                         "top1": r.top1, "resolution": r.image_size, "weights": "hub", "description": r.supernet})
    if args.json:
        print_json(rows)
    else:
        print_table(f"models matching {args.pattern!r} ({len(rows)})",
                    ["name", "kind", "device", "ms", "top-1 %", "res", "weights", "description"],
                    [[r["name"], r["kind"], r["device"], r["latency_ms"] or "", r["top1"] or "", r["resolution"],
                      r["weights"], r["description"]] for r in rows])
    return 0 if rows else 2


def _devices(args) -> int:
    from ..registry import DEVICES

    recs = DEVICES.records(args.pattern)
    rows = [{"name": r.name, "backend": r.backend, "latency_source": r.latency_source, "aliases": list(r.aliases),
             "description": r.description} for r in recs]
    if args.json:
        print_json(rows)
    else:
        print_table(f"devices matching {args.pattern!r} ({len(rows)})", ["name", "backend", "latency", "aliases",
                                                                        "description"],
                    [[r["name"], r["backend"], r["latency_source"], ", ".join(r["aliases"]), r["description"]]
                     for r in rows])
    return 0 if rows else 2


def _backends(args) -> int:
    from ..deploy import list_backends

    infos = list_backends()
    if args.json:
        print_json([i.__dict__ for i in infos])
    else:
        print_table("backends (entry-point group ofa_deploy.backends)",
                    ["name", "installed", "formats", "precisions", "versions / install"],
                    [[i.name, "✅" if i.available else "❌", ", ".join(i.formats), ", ".join(i.precisions),
                      ", ".join(f"{k} {v}" for k, v in i.versions.items()) if i.available else i.install]
                     for i in infos])
    return 0


def model_kwargs(args) -> dict:
    """get_model / search keyword arguments from the shared options."""
    return {"macs": args.macs, "params": args.params, "accuracy_predictor": args.accuracy_predictor,
            "latency_table": args.latency_table, "resolutions": args.resolutions, "seed": args.seed}


def _get(args) -> int:
    from ..deploy.export import export
    from ..fileio import atomic_write_json
    from ..zoo import get_model, save_model

    model = get_model(args.device, args.latency, args.supernet, pretrained=not args.no_pretrained,
                      weights=args.weights, prefer_published=args.prefer_published, **model_kwargs(args))
    out = args.out
    save_model(model, out / "model.pth")
    atomic_write_json(out / "card.json", model.card)
    exports, failed = {}, False
    for fmt in [f.strip() for f in args.export.split(",") if f.strip()]:
        try:
            exports[fmt] = str(export(model, fmt, out, precision=args.precision).path)
        except Exception as exc:  # the log line already says ❌; keep exporting the others
            exports[fmt], failed = f"failed: {type(exc).__name__}: {exc}", True
    summary = {"model": str(out / "model.pth"), "arch": model.card.get("arch_short") or model.card.get("name"),
               "predicted_latency_ms": (model.card.get("predicted_latency") or {}).get("ms"),
               "latency_source": (model.card.get("predicted_latency") or {}).get("source"),
               "predicted_top1": (model.card.get("predicted_accuracy") or {}).get("top1"),
               "macs": model.card.get("macs"), "params": model.card.get("params"), "exports": exports}
    if args.json:
        print_json(summary)
    else:
        print_kv(f"model for {args.device}" + (f" ≤ {args.latency:g} ms" if args.latency else ""), summary)
        if model.card.get("published_alternative"):
            console().print(f"published alternative: {model.card['published_alternative']}")
    return 1 if failed else 0
