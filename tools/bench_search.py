"""Search speed: our vectorized evolution vs the official tutorial's loop, side by side.

    python tools/bench_search.py [--repeats 3] [--latency 25] [--table-dir DIR] [--predictor PTH]

Both searches get the same inputs: a Note10-format latency table for the w1.2 space (one
`{r}_lookup_table.yaml` per resolution 160..224) and an official-format accuracy predictor
(128 → 400 → 400 → 400 → 1), the same budget and the official defaults (population 100,
500 generations). Pass the official files with --table-dir / --predictor when you have them;
without them (no network here) the bench writes clearly labelled stand-ins in the official formats
into --work: a table whose op latencies follow a mobile-like cost model (depthwise MACs dearer than
pointwise, a fixed cost per op, SE extra), and a predictor fitted to a smooth synthetic top-1.
Prints a table of medians over --repeats runs (alternating baseline and ours), the speed-up, and
checks that each result meets the budget and that ours predicts equal or better accuracy.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from official_search_baseline import ArchManager, EvolutionFinder, LutLatency, MlpAccuracy  # noqa: E402

from ofa_deploy.accuracy import FitConfig, load_accuracy_predictor, train_predictor  # noqa: E402
from ofa_deploy.arch import ArchBatch, ArchConfig  # noqa: E402
from ofa_deploy.cost import AdditiveCost  # noqa: E402
from ofa_deploy.fileio import atomic_write_json, atomic_write_text  # noqa: E402
from ofa_deploy.profile import count_macs  # noqa: E402
from ofa_deploy.search import EvolutionConfig, search  # noqa: E402
from ofa_deploy.supernets.mbv3 import W12  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESOLUTIONS = (160, 176, 192, 208, 224)


# ---- inputs ----------------------------------------------------------------------------------
def standin_op_ms(op) -> float:
    """Stand-in mobile op latency (ms): depthwise work costs ~4x pointwise per MAC, plus a fixed cost."""
    if op.kind != "expanded_conv":
        return 0.02 + op.macs / 9e6
    h, w, cin = op.in_shape
    ho, wo, cout = op.out_shape
    dw = ho * wo * op.mid * op.ks * op.ks
    return 0.03 + (op.macs - dw) / 9e6 + dw / 2.2e6 + (0.06 if op.se else 0.0)


def write_standin_tables(out: Path) -> Path:
    """Note10-format YAML tables for the w1.2 space with stand-in values (every op key of the space)."""
    sp = W12.space
    for r in RESOLUTIONS:
        ops = W12.fixed_ops(r) + [W12.block_op(r, i, k, e) for i in range(sp.n_blocks)
                                  for k in sp.ks_choices for e in sp.e_choices]
        table = {op.key: {"count": 1, "mean": round(standin_op_ms(op), 6), "std": 0.0} for op in ops}
        atomic_write_text(out / f"{r}_lookup_table.yaml", yaml.safe_dump(table, sort_keys=True))
    return out


def write_standin_predictor(path: Path) -> Path:
    """An official-format predictor fitted to a smooth synthetic top-1 (log-MACs trend plus small
    per-gene effects), saved as the bare state dict the official code loads."""
    rng = np.random.default_rng(0)
    archs = ArchBatch.sample(W12.space, 3000, rng, RESOLUTIONS)
    from ofa_deploy.accuracy import ArchEncoder

    enc = ArchEncoder.for_space(W12.space)
    gene_effect = rng.normal(0, 0.0015, enc.n_features)
    top1 = 0.74 + 0.045 * np.log2(count_macs(W12.name, archs) / 300e6) + enc.encode_batch(archs) @ gene_effect
    pred, report = train_predictor(archs, top1, FitConfig(epochs=60, batch_size=128), supernet=W12.name)
    print(f"stand-in predictor fit: held-out RMSE {report['held_out']['rmse_pct']:.2f} pts, "
          f"Spearman {report['held_out']['spearman']:.3f}")
    return pred.save(path, official=True)


class LutCost(AdditiveCost):
    """Our side's view of the same YAML tables: an additive cost with per-resolution op entries
    (stand-in for ofa_deploy.load_latency_table until the latency layer ships it)."""

    def __init__(self, spec, table_dir: Path):
        super().__init__(spec, lambda op: 0.0)
        self.luts = {r: yaml.safe_load((table_dir / f"{r}_lookup_table.yaml").read_text()) for r in RESOLUTIONS}
        self.resolutions, self.source, self.provenance = list(RESOLUTIONS), "official-format", {"dir": str(table_dir)}

    def tables(self, r: int):
        if r not in self._cache:
            self.op_cost = lambda op: float(self.luts[r][op.key]["mean"])
        return super().tables(r)


def latency_model(table_dir: Path):
    import ofa_deploy.latency as lat

    if hasattr(lat, "load_latency_table"):
        return lat.load_latency_table(table_dir)
    return LutCost(W12, table_dir)


# ---- the two searches ------------------------------------------------------------------------
def run_baseline(table_dir: Path, predictor_path: Path, budget: float, seed: int, generations: int) -> dict:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = load_accuracy_predictor(str(predictor_path), W12.name).model
    lut = LutLatency({r: str(table_dir / f"{r}_lookup_table.yaml") for r in RESOLUTIONS})
    finder = EvolutionFinder(budget, lut, MlpAccuracy(model), ArchManager(RESOLUTIONS), max_time_budget=generations)
    t0 = time.perf_counter()
    _, (acc, spec, ms) = finder.run_evolution_search()
    secs = time.perf_counter() - t0
    arch = ArchConfig(ks=spec["ks"], e=spec["e"], d=spec["d"], r=spec["r"][0])
    return {"seconds": secs, "acc": acc, "ms": ms, "arch": arch.to_dict()}


def run_ours(lat, predictor, budget: float, seed: int, generations: int) -> dict:
    t0 = time.perf_counter()
    res = search(W12.name, latency=budget, latency_table=lat, accuracy_predictor=predictor, seed=seed,
                 config=EvolutionConfig(generations=generations), progress=False, resolutions=RESOLUTIONS)
    secs = time.perf_counter() - t0
    return {"seconds": secs, "acc": res.score, "ms": res.values["latency"], "arch": res.arch.to_dict(),
            "scored": res.stats["scored"], "search_seconds": res.seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--latency", type=float, default=25.0, help="budget in ms (Note10 tutorial: 25)")
    p.add_argument("--generations", type=int, default=500)
    p.add_argument("--table-dir", type=Path, help="folder with the official {r}_lookup_table.yaml files")
    p.add_argument("--predictor", type=Path, help="the official acc_predictor.pth")
    p.add_argument("--work", type=Path, default=REPO / "runs" / "bench_search")
    args = p.parse_args()
    torch.set_num_threads(1)  # both searches on one core: the comparison is per core, not per machine

    table_dir, pred_path, inputs = args.table_dir, args.predictor, "official files"
    if table_dir is None or pred_path is None:
        inputs = "stand-ins in the official formats (see --help)"
        if table_dir is None:
            table_dir = args.work / "note10_standin"
            if not (table_dir / "224_lookup_table.yaml").exists():
                write_standin_tables(table_dir)
        if pred_path is None:
            pred_path = args.work / "acc_predictor_standin.pth"
            if not pred_path.exists():
                write_standin_predictor(pred_path)
    lat = latency_model(table_dir)
    predictor = load_accuracy_predictor(str(pred_path), W12.name)
    run_ours(lat, predictor, args.latency, 999, 5)  # warm-up: imports, table build

    runs = {"baseline": [], "ours": []}
    for i in range(args.repeats):
        runs["baseline"].append(run_baseline(table_dir, pred_path, args.latency, i, args.generations))
        runs["ours"].append(run_ours(lat, predictor, args.latency, i, args.generations))
        print(f"repeat {i + 1}/{args.repeats}: baseline {runs['baseline'][-1]['seconds']:.2f} s, "
              f"ours {runs['ours'][-1]['seconds']:.3f} s", flush=True)
    report(runs, args, inputs, lat, predictor, table_dir, pred_path)


def report(runs, args, inputs, lat, predictor, table_dir, pred_path) -> None:
    from rich.console import Console
    from rich.table import Table

    med = {k: {m: statistics.median(r[m] for r in v) for m in ("seconds", "acc", "ms")} for k, v in runs.items()}
    for name, rs in runs.items():  # both answers must meet the budget on the same table
        for r in rs:
            ours_ms = float(lat.predict(ArchConfig.from_dict(r["arch"])))
            assert ours_ms <= args.latency + 1e-9, f"{name} returned {ours_ms:.3f} ms > {args.latency} ms"
            assert abs(ours_ms - r["ms"]) < 1e-6, f"{name}: table sums disagree ({ours_ms} vs {r['ms']})"
    speedup = med["baseline"]["seconds"] / med["ours"]["seconds"]
    t = Table(title=f"Evolutionary search, w1.2 space, latency ≤ {args.latency:g} ms, population 100, "
                    f"{args.generations} generations, medians of {args.repeats} runs (one core)")
    for c in ("search", "seconds", "best predicted top-1", "its latency (ms)", "speed-up"):
        t.add_column(c, justify="left" if c == "search" else "right")
    t.add_row("official loop (our re-implementation)", f"{med['baseline']['seconds']:.2f}",
              f"{100 * med['baseline']['acc']:.2f}%", f"{med['baseline']['ms']:.2f}", "1.0x")
    t.add_row("ofa_deploy.search (vectorized)", f"{med['ours']['seconds']:.3f}", f"{100 * med['ours']['acc']:.2f}%",
              f"{med['ours']['ms']:.2f}", f"{speedup:.1f}x")
    con = Console(width=140)
    con.print(t)
    con.print(f"inputs: {inputs}: table {table_dir}, predictor {pred_path}")
    better = med["ours"]["acc"] >= med["baseline"]["acc"] - 1e-9
    con.print(f"speed-up {speedup:.1f}x (goal ≥ 20x); predicted top-1 ours {100 * med['ours']['acc']:.3f}% vs "
              f"baseline {100 * med['baseline']['acc']:.3f}% → {'equal or better' if better else 'WORSE'}")
    atomic_write_json(args.work / "bench_search.json", {"inputs": inputs, "budget_ms": args.latency,
                                                        "generations": args.generations, "runs": runs,
                                                        "medians": med, "speedup": speedup})


if __name__ == "__main__":
    main()
