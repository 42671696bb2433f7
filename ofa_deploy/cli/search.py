"""`ofa-deploy search`: the best arch for a budget, or the accuracy–latency front (--pareto)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_json_flag, number_list, print_json, print_kv, print_table, run_dir
from .zoo import add_model_source_args, model_kwargs


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="evolutionary search under latency/MACs/params limits (arch only)")
    p.add_argument("--supernet", default="ofa_mbv3_d234_e346_k357_w1.0", help="registry name (ofa-deploy models)")
    p.add_argument("--device", help="device whose latency source to use (ofa-deploy devices)")
    p.add_argument("--latency", type=float, help="latency budget in ms")
    p.add_argument("--pareto", type=str, nargs="+", help="several budgets in one run: the front (spaces or commas)")
    add_model_source_args(p)
    p.add_argument("--population", type=int, default=100, help="archs per generation")
    p.add_argument("--generations", type=int, default=500, help="evolution steps")
    p.add_argument("--plot", type=Path, help="PNG of the front (with --pareto)")
    p.add_argument("--out", type=Path, help="write the result as JSON here (an existing file gets a numbered sibling)")
    p.add_argument("--no-cache", action="store_true", help="search again even if an identical search is cached")
    p.add_argument("--exist-ok", action="store_true", help="overwrite an existing --out / --plot instead of numbering")
    add_json_flag(p)
    p.set_defaults(func=_search)


def _search(args) -> int:
    from ..search import EvolutionConfig, search

    kw = model_kwargs(args)
    kw.pop("latency_table")
    plot = run_dir(args.plot, args.exist_ok) if args.plot else None   # a previous front.png is kept
    res = search(args.supernet, device=args.device, latency=args.latency, latency_table=args.latency_table,
                 pareto=number_list(args.pareto, float, "--pareto"), config=EvolutionConfig(population=args.population, generations=args.generations),
                 cache=not args.no_cache, plot=plot, progress=not args.json, **kw)
    points = getattr(res, "points", [res])
    if args.out:
        from ..fileio import atomic_write_json

        atomic_write_json(run_dir(args.out, args.exist_ok), res.to_dict())
    if args.json:
        print_json({**res.to_dict(), "plot": str(plot) if plot else None})
    elif len(points) == 1:
        r = points[0]
        print_kv(f"best subnet of {r.supernet}", {"arch": r.arch.short(), _score_label(r): r.score, **r.values,
                                                  "macs": r.macs, "params": r.params, "seconds": r.seconds})
    else:
        print_table("accuracy–latency front", ["budget ms", "latency ms", _score_label(points[0]), "MMACs", "arch"],
                    [[p.limits["latency"], p.values["latency"], p.score, (p.macs or 0) / 1e6, p.arch.short()]
                     for p in points])
        if plot:
            print(f"front plotted to {plot}")
    return 0


def _score_label(r) -> str:
    """What the score column is: a predicted top-1, or a proxy (MACs, another space's predictor)."""
    acc = r.accuracy or {}
    if r.predicted_accuracy is None:
        return f"proxy score ({acc.get('source', 'not a top-1')})"
    return "predicted top-1 (proxy)" if acc.get("proxy_for") or acc.get("source") == "proxy" else "predicted top-1"
