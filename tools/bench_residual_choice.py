"""How often does the residual predictor's model choice keep a correction, and what does the kept
predictor cost in error? The figures of docs/latency.md ("How the rule holds up").

    nice -n 15 python tools/bench_residual_choice.py [--seeds 100] [--subsets 50]

Synthetic scenarios: the subnets `pick_archs` gives (seed 0) on the shipped tiny and w1.0 ONNX
Runtime tables (plain sum, no calibration), a noise-free truth built from their own additive
features (the plain sum; 1.3 x sum + ops + constant, "linear"; 0.8 x sum + ops + constant + params,
"memory"), times uniform relative noise drawn with each seed. `ofa_deploy.latency.residual.choose`
(what `lut adapt` / `lut build --calibrate` call) decides once per seed; the kept predictor (the sum
or the correction) is scored against the noise-free truth on 500 fresh random nets. Columns: how
often a correction was kept, which models (counts), mean error of the kept predictor, the plain sum's
error against the same truth (how far off the sum is), median decision time (ms; a shared host
makes this a rough figure, the counts are exact for a given seed).

Measured data: the shipped tiny ONNX Runtime table's own whole-net measurements (copied from its
build journals into tests/latency/data/tiny_ort_whole_nets.json): the choice on its calibration
nets, scored on its evaluation nets, once on all calibration nets and over --subsets random 20-net
subsets of them.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ofa_deploy.arch import ArchBatch, ArchConfig
from ofa_deploy.cli.common import print_table
from ofa_deploy.latency.adapt import pick_archs
from ofa_deploy.latency.evaluate import metrics
from ofa_deploy.latency.residual import all_features, choose
from ofa_deploy.latency.table import LatencyTable

REPO = Path(__file__).resolve().parents[1]
TABLES = {"tiny": REPO / "latency_tables/ofa_tiny_d123_e346_k357/onnxruntime-cpu",
          "w1.0": REPO / "latency_tables/ofa_mbv3_d234_e346_k357_w1.0/onnxruntime-cpu"}
TRUTHS = {"sum": lambda v: v["sum"],
          "linear": lambda v: 1.3 * v["sum"] + 0.002 * v["ops"] + 0.01,
          "memory": lambda v: 0.8 * v["sum"] + 0.002 * v["ops"] + 0.01 + 0.2 * v["params"]}
# (space, nets, truth, ± relative noise): the rows of docs/latency.md's table
SCENARIOS = [("tiny", 30, "sum", 0.15), ("tiny", 20, "sum", 0.15), ("w1.0", 30, "sum", 0.15),
             ("w1.0", 20, "sum", 0.15), ("tiny", 30, "sum", 0.05), ("tiny", 30, "linear", 0.10),
             ("tiny", 30, "memory", 0.03), ("tiny", 30, "memory", 0.10), ("tiny", 20, "memory", 0.10),
             ("w1.0", 20, "memory", 0.10)]
FRESH_NETS, FRESH_SEED, SUBSET = 500, 12345, 20
# the whole-net medians measured when the shipped tiny ORT table was built and evaluated (one copy,
# shared with tests/latency/test_residual.py; the build journals themselves are not shipped)
WHOLE_NETS = REPO / "tests/latency/data/tiny_ort_whole_nets.json"


def plain_table(space: str) -> LatencyTable:
    table = LatencyTable.load(TABLES[space])
    table.calibration = None      # the choice starts from the plain sum of op medians
    return table


def kept_models(counts: Counter) -> str:
    return ", ".join(f"{m} {c}" for m, c in counts.most_common() if m != "sum") or "-"


def timed_choice(values, measured, space, seed):
    t0 = time.perf_counter()
    corr, rep = choose(values, measured, space, seed=seed)
    return corr, rep["chosen"], (time.perf_counter() - t0) * 1e3


def predicted(corr, values) -> np.ndarray:
    return values["sum"] if corr is None else corr.apply_features(values)


def scenario_row(space, n, truth, noise, seeds, bar) -> list:
    table = plain_table(space)
    feats = all_features(table.space)
    v = table.feature_values(pick_archs(table, n, seed=0), feats)
    fresh = table.feature_values(ArchBatch.sample(table.space, FRESH_NETS, rng=FRESH_SEED,
                                                  resolutions=table.resolutions), feats)
    exact, fresh_truth = TRUTHS[truth](v), TRUTHS[truth](fresh)
    rel_err = lambda p: float(np.mean(np.abs(p / fresh_truth - 1)) * 100)
    counts, errors, ms = Counter(), [], []
    for s in range(seeds):
        meas = exact * (1 + np.random.default_rng(s).uniform(-noise, noise, n))
        corr, chosen, dt = timed_choice(v, meas, table.space, s)
        counts[chosen] += 1
        errors.append(rel_err(predicted(corr, fresh)))
        ms.append(dt)
        bar.update()
    label = f"{truth} truth × ±{noise * 100:.0f} % noise, {space}"
    return [label, n, f"{seeds - counts['sum']}/{seeds}", kept_models(counts), f"{np.mean(errors):.2f}",
            f"{rel_err(fresh['sum']):.1f}", f"{np.median(ms):.0f}"]


def whole_nets(table: LatencyTable, which: str):
    """(feature values, measured ms) of the shipped tiny ORT table's calibration or evaluation nets."""
    rows = json.loads(WHOLE_NETS.read_text())[which]
    archs = [ArchConfig.coerce(json.loads(a), table.space) for a, _ in rows]
    return table.feature_values(archs, all_features(table.space)), np.array([ms for _, ms in rows])


def shipped_rows(subsets: int, bar) -> list[list]:
    table = plain_table("tiny")
    v, m = whole_nets(table, "calibration")
    hv, hm = whole_nets(table, "evaluation")
    mape = lambda corr: metrics(predicted(corr, hv), hm)["mape"]
    corr, chosen, dt = timed_choice(v, m, table.space, 0)
    bar.update()
    name = f"shipped tiny ORT: {len(m)} calibration nets, MAPE on {len(hm)} evaluation nets"
    rows = [[name, len(m), f"{int(chosen != 'sum')}/1", kept_models(Counter([chosen])), f"{mape(corr):.2f}",
             f"{mape(None):.1f}", f"{dt:.0f}"]]
    counts, errors, ms = Counter(), [], []
    for s in range(subsets):
        idx = np.random.default_rng(s).choice(len(m), SUBSET, replace=False)
        corr, chosen, dt = timed_choice({k: x[idx] for k, x in v.items()}, m[idx], table.space, s)
        counts[chosen] += 1
        errors.append(mape(corr))
        ms.append(dt)
        bar.update()
    if subsets:
        p10, p50, p90 = np.percentile(errors, [10, 50, 90])
        rows.append([f"same, random {SUBSET}-net subsets (error: median, p10-p90)", SUBSET,
                     f"{subsets - counts['sum']}/{subsets}", kept_models(counts),
                     f"{p50:.2f} ({p10:.1f}-{p90:.1f})", f"{mape(None):.1f}", f"{np.median(ms):.0f}"])
    return rows


def main(argv=None) -> None:
    from tqdm import tqdm

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=100, help="noise draws (and fold seeds) per synthetic scenario")
    p.add_argument("--subsets", type=int, default=50, help="random 20-net subsets of the shipped table's calibration nets")
    a = p.parse_args(argv)
    if a.seeds < 1 or a.subsets < 0:
        p.error("--seeds must be at least 1 and --subsets at least 0")
    with tqdm(total=len(SCENARIOS) * a.seeds + 1 + a.subsets, desc="choices", leave=False) as bar:
        rows = [scenario_row(*sc, a.seeds, bar) for sc in SCENARIOS]
        rows += shipped_rows(a.subsets, bar)
    print_table(f"residual.choose: model choice over {a.seeds} seeds (error % vs the noise-free truth on "
                f"{FRESH_NETS} fresh nets; shipped rows: vs measured)",
                ["scenario", "nets", "kept", "models kept", "error %", "sum's error %", "decision ms (median)"], rows)


if __name__ == "__main__":
    main()
