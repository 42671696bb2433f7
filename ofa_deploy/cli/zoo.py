"""`ofa-deploy models | devices | backends | get`: what the registry knows, and the front door."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import (DRY_LINE, DRY_TITLE, add_json_flag, add_out_flag, comma_list, console, number_list, print_json,
                     print_kv, print_table, run_dir)
from .export import add_precision_flags, export_row


def add_parser(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="list supernets and published specialized nets (wildcards)")
    m.add_argument("pattern", nargs="?", default="*", help="e.g. '*pixel1*' or 'ofa_mbv3*'")
    m.add_argument("--kind", choices=("all", "supernet", "specialized"), default="all")
    m.add_argument("--pretrained", action="store_true", help="only names with registered weights")
    add_json_flag(m)
    m.set_defaults(func=_models)

    d = sub.add_parser("devices", help="list deployment targets and where their latency numbers come from")
    d.add_argument("pattern", nargs="?", default="*")
    add_json_flag(d)
    d.set_defaults(func=_devices)

    b = sub.add_parser("backends", help="list backend plugins and whether their runtime is installed")
    add_json_flag(b)
    b.set_defaults(func=_backends)

    g = sub.add_parser("get", help="search, extract and save the best subnet for a device and budget")
    g.add_argument("--device", required=True, help="device name (ofa-deploy devices) or a published net id")
    g.add_argument("--latency", type=float, help="latency budget in ms on the device")
    g.add_argument("--supernet", default="ofa_mbv3_d234_e346_k357_w1.0", help="registry name (ofa-deploy models)")
    add_model_source_args(g)
    g.add_argument("--prefer-published", action="store_true", help="return a published net when it fits better")
    g.add_argument("--verify", action=argparse.BooleanOptionalAction, default=None,
                   help="export and measure the winner here, searching again while it measures over budget "
                        "(default: on when the device's backend can measure from this host)")
    g.add_argument("--format", "-f", "--export", dest="format", default="",
                   help="comma-separated formats to export to, e.g. onnx,tflite,mlmodel")
    add_precision_flags(g)
    g.add_argument("--arch", help="extract this arch (as printed, e.g. r28-d123-k…-e…, or JSON) instead of searching")
    add_out_flag(g, Path("ofa_model"), "folder for model.pth, card.json and exports")
    add_json_flag(g)
    g.set_defaults(func=_get)


def add_model_source_args(p: argparse.ArgumentParser) -> None:
    """Options shared by `get` and `search`: constraints, predictors, tables, weights, seed."""
    p.add_argument("--macs", type=float, help="MACs limit, e.g. 300e6")
    p.add_argument("--params", type=float, help="parameter limit, e.g. 5e6")
    p.add_argument("--accuracy-predictor", help="checkpoint path, asset name or 'macs'")
    p.add_argument("--latency-table", help="table folder or name (instead of the device's own source)")
    p.add_argument("--resolutions", nargs="+", help="input resolutions to search (spaces or commas)")
    p.add_argument("--weights", help="supernet checkpoint path (instead of the hub)")
    p.add_argument("--no-pretrained", action="store_true", help="random weights (a dry run)")
    p.add_argument("--seed", type=int, default=0, help="search seed")


def _models(args) -> int:
    from ..registry import SPECIALIZED, SUPERNETS, list_names   # not zoo: listing must not import torch

    names = list_names(args.pattern, args.kind, args.pretrained)
    rows = []
    for n in names:
        if n in SUPERNETS:
            r = SUPERNETS.get(n)
            rows.append({"name": n, "kind": "supernet", "device": "", "latency_ms": None, "top1": None,
                         "resolution": "{}-{}".format(*r.resolution_range),
                         "weights": "embedded" if r.embedded else ("hub" if r.weights else "none"),
                         "description": r.description})
        else:
            r = SPECIALIZED.get(n)
            rows.append({"name": n, "kind": "published", "device": r.device, "latency_ms": r.latency_ms,
                         "top1": r.top1, "resolution": r.image_size, "weights": "hub", "description": r.supernet})
    if args.json:
        print_json(rows, "models")
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
        print_json(rows, "devices")
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
        print_json([i.__dict__ for i in infos], "backends")
    else:
        print_table("backends (entry-point group ofa_deploy.backends)",
                    ["name", "installed", "measures", "formats", "precisions", "versions / install"],
                    [[i.name, "✅" if i.available else "❌", _MEASURES.get(i.measures, i.measures),
                      ", ".join(i.formats), ", ".join(i.precisions),
                      ", ".join(f"{k} {v}" for k, v in i.versions.items()) if i.available else i.install]
                     for i in infos])
    return 0


_MEASURES = {"here": "on this host", "estimate": "estimate only (latency model)"}


def model_kwargs(args) -> dict:
    """get_model / search keyword arguments from the shared options."""
    return {"macs": args.macs, "params": args.params, "accuracy_predictor": args.accuracy_predictor,
            "latency_table": args.latency_table, "resolutions": number_list(args.resolutions, int, "--resolutions"),
            "seed": args.seed}


def _get(args) -> int:
    from ..deploy.export import check_export_request
    from ..fileio import atomic_write_json
    from ..zoo import get_model, save_model
    from .data import calibration

    formats, precisions = comma_list(args.format), comma_list(args.precision)
    for prec in precisions if formats else ():   # names, precisions and the folder before the search
        check_export_request(formats, prec, args.out, calibration=args.calib_data)
    out = run_dir(args.out, args.exist_ok)
    if args.no_pretrained:
        from ..log import LOGGER

        LOGGER.info(DRY_LINE)
    model = get_model(args.device, args.latency, args.supernet, pretrained=not args.no_pretrained,
                      weights=args.weights, prefer_published=args.prefer_published, verify=args.verify,
                      arch=args.arch, **model_kwargs(args))
    save_model(model, out / "model.pth")
    atomic_write_json(out / "card.json", model.card.to_dict())
    calib = calibration(args.calib_data, model) if formats else None
    rows = [export_row(model, fmt, prec, out, calib) for prec in precisions for fmt in formats]
    card = model.card
    summary = {"status": "ok" if all(r["status"] == "ok" for r in rows) else "failed",
               "model": str(out / "model.pth"), "arch": card.get("arch_short") or card.get("name"),
               "dry_run": bool(card.get("dry_run")),
               "predicted_latency_ms": (card.get("predicted_latency") or {}).get("ms"),
               "latency_source": (card.get("predicted_latency") or {}).get("source"),
               "predicted_top1": (card.get("predicted_accuracy") or {}).get("top1"),
               "predicted_top1_is_proxy": bool((card.get("predicted_accuracy") or {}).get("proxy")),
               "measured_median_ms": (card.get("verification") or {}).get("median_ms"),
               "weights": card.get("weights"), "macs": card.get("macs"), "params": card.get("params"),
               "exports": {f"{r['format']}" + (f"@{r['precision']}" if len(precisions) > 1 else ""):
                           r["path"] if r["status"] == "ok" else f"failed: {r['error']}" for r in rows}}
    if args.arch and summary["predicted_latency_ms"] is None:   # extracted, not searched: predict it here
        from .predict import predict_arch

        pred = predict_arch(args.supernet, summary["arch"], args.device, args.latency_table, args.accuracy_predictor)
        summary.update(predicted_latency_ms=pred.get("predicted_latency_ms"), latency_source=pred.get("latency_source"),
                       predicted_top1=pred["predicted_top1"], predicted_top1_is_proxy=pred["predicted_top1_is_proxy"])
    if args.json:
        print_json(summary)
    else:
        title = f"model for {args.device}" + (f" ≤ {args.latency:g} ms" if args.latency else "")
        print_kv(title + (DRY_TITLE if summary["dry_run"] else ""), summary)
        if card.get("published_alternative"):
            console().print(f"published alternative: {card['published_alternative']}")
    return 0 if summary["status"] == "ok" else 1
