"""How good is a table? Measure N sampled subnets whole and compare with the prediction:
share within ±5 % and ±10 %, MAPE, RMSE, Spearman and Kendall rank correlation, and a
predicted-vs-measured scatter plot."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..arch import ArchBatch
from ..deploy.base import MeasureSettings
from ..errors import check_number
from ..fileio import atomic_write_json, make_dirs
from .builder import Journal, _run_parallel, measure_arch_stats
from .measure import NET_WINDOWS, Measurer
from .adapt import with_correction
from .table import LatencyTable


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    for v in np.unique(x):  # average ranks of ties
        idx = x == v
        r[idx] = r[idx].mean()
    return r


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(_ranks(np.asarray(a)), _ranks(np.asarray(b)))[0, 1])


def kendall(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b."""
    a, b = np.asarray(a), np.asarray(b)
    da, db = np.sign(a[:, None] - a[None, :]), np.sign(b[:, None] - b[None, :])
    iu = np.triu_indices(len(a), 1)
    da, db = da[iu], db[iu]
    denom = np.sqrt(np.sum(da != 0) * np.sum(db != 0))
    return float(np.sum(da * db) / denom) if denom else 0.0


def metrics(pred: np.ndarray, meas: np.ndarray) -> dict[str, float]:
    pred, meas = np.asarray(pred, dtype=float), np.asarray(meas, dtype=float)
    rel = np.abs(pred - meas) / meas
    return {"n": int(len(meas)), "within_5pct": float(np.mean(rel <= 0.05) * 100),
            "within_10pct": float(np.mean(rel <= 0.10) * 100), "mape": float(rel.mean() * 100),
            "rmse_ms": float(np.sqrt(np.mean((pred - meas) ** 2))), "spearman": spearman(pred, meas),
            "kendall": kendall(pred, meas), "measured_ms_range": [float(meas.min()), float(meas.max())]}


def scatter_plot(pred: np.ndarray, meas: np.ndarray, raw: np.ndarray | None, path: Path, title: str,
                 device: str | None = None) -> Path:
    """Predicted vs measured PNG, axes labelled with `device` (drawn by ofa_deploy.plots)."""
    from ..plots import latency_scatter_figure, save_png

    return save_png(latency_scatter_figure(pred, meas, raw, title, device), path)


def searched_archs(table: LatencyTable, n: int, seed: int = 1) -> tuple[list, str]:
    """The subnets search returns for `n` budgets spread over the table's predicted range (the
    held-out set where the predictor must be right), and the objective they were searched for.
    Imported lazily: search imports latency."""
    from ..search import search
    from ..search.evolution import EvolutionConfig

    pool = ArchBatch.sample(table.spec.space, 400, rng=seed + 7, resolutions=table.resolutions)
    lo, hi = np.percentile(table.predict(pool), [10, 95])
    budgets = [float(b) for b in np.linspace(lo, hi, max(1, n))]
    from ..accuracy import load_accuracy_predictor
    from ..errors import WeightsUnavailableError

    try:   # the space's accuracy predictor; off-line without it, the MACs proxy: the biggest nets in budget
        predictor, objective = load_accuracy_predictor(None, table.supernet), "predicted top-1"
    except WeightsUnavailableError:
        predictor, objective = load_accuracy_predictor("macs", table.supernet), "MACs (accuracy predictor not available here)"
    front = search(table.supernet, latency_table=table, accuracy_predictor=predictor, pareto=budgets, seed=seed,
                   progress=False, config=EvolutionConfig(population=100, generations=100))
    return [p.arch for p in front.points], objective


def _measure_set(name: str, archs, table, folder, m, net) -> tuple[dict, np.ndarray, list[float]]:
    journal = Journal(folder / "evaluate_journal.jsonl")
    todo = [a for a in archs if f"net|{a.to_json()}" not in journal.done]

    def work(mm, a):
        st = measure_arch_stats(mm, net, a)
        return {"id": f"net|{a.to_json()}", "ms": st.median, "spread": st.settings.get("spread", 0.0)}

    _run_parallel(todo, work, [m], journal, f"evaluate nets ({name})")
    meas = np.array([journal.done[f"net|{a.to_json()}"]["ms"] for a in archs])
    spreads = [journal.done[f"net|{a.to_json()}"].get("spread", float("nan")) for a in archs]
    raw, pred = table.op_sum(archs), table.predict(archs)
    models = {k: metrics(with_correction(table, c).predict(archs), meas) for k, c in compared_models(table).items()}
    return {"calibrated": metrics(pred, meas), "sum_of_ops": metrics(raw, meas), "models": models}, meas, spreads


def compared_models(table: LatencyTable) -> dict[str, Any]:
    """The predictors reported side by side: the plain sum; the table's own correction from its
    build host (before adaptation); the one adapted to this host, if any; and every candidate
    model refitted on this host's adaptation nets (`lut adapt`), where there are 3 × its
    parameters of them — so one evaluation compares sum vs linear vs learned residual."""
    from .adapt import adaptation_data
    from .calibration import correction_from_dict
    from .residual import NETS_PER_PARAM, all_features, candidates, fit_model, n_params

    out: dict[str, Any] = {"sum": None}
    own = table.provenance.get("calibration")
    if own:
        out["build-host correction"] = correction_from_dict(own)
    if table.provenance.get("adaptation"):
        out[f"adapted ({getattr(table.calibration, 'model', 'sum')})"] = table.calibration
    archs, ms = adaptation_data(table)
    if len(ms):
        values = table.feature_values(archs, all_features(table.space))
        for name in candidates(table.space):
            if len(ms) >= NETS_PER_PARAM * n_params(name, table.space):
                out[f"refit {name} on {len(ms)} adapt nets"] = fit_model(name, values, ms, table.space)
    return out


def evaluate_table(table: LatencyTable, folder: str | Path, backend: str, n: int = 100,
                   settings: MeasureSettings | None = None, serial: str | None = None, seed: int = 1,
                   searched: int = 0) -> dict[str, Any]:
    """Measure `n` fresh random subnets (not the calibration ones) and, with `searched`, the subnets
    search returns for that many budgets; report both sets, the test-retest spread of the
    measurements (session-to-session, per net), plot, and write evaluate.json."""
    from ..supernets import get_supernet

    n = check_number("n", n, minimum=1, integer=True)
    searched = check_number("searched", searched, minimum=0, integer=True)
    folder = make_dirs(folder, "evaluation folder")
    settings = settings or MeasureSettings(warmup=5, runs=30)
    m = Measurer(backend, settings.with_options(serial=serial) if serial else settings)
    net = get_supernet(table.supernet)
    archs = ArchBatch.sample(table.spec.space, n, rng=seed, resolutions=table.resolutions).to_archs()
    rand, meas, spreads = _measure_set("random", archs, table, folder, m, net)
    report = {"table": table.name, "backend": backend, **rand, "settings": settings.to_dict(),
              "method": f"median of {NET_WINDOWS} fresh-session medians per net (deploy.timing)", "plot": "evaluate.png"}
    if searched:
        s_archs, objective = searched_archs(table, searched, seed)
        report["searched"], _, s_spreads = _measure_set("searched", s_archs, table, folder, m, net)
        report["searched"]["objective"] = objective
        spreads += s_spreads
    sp = np.array([x for x in spreads if np.isfinite(x)]) * 100
    report["test_retest"] = {"median_spread_pct": float(np.median(sp)) if sp.size else None,
                             "p90_spread_pct": float(np.percentile(sp, 90)) if sp.size else None,
                             "what": "(max-min)/median of the session medians of each net"}
    scatter_plot(table.predict(archs), meas, table.op_sum(archs), folder / "evaluate.png", f"{table.name}: n={n}",
                 (table.provenance or {}).get("device") or backend)
    atomic_write_json(folder / "evaluate.json", report)
    return report
