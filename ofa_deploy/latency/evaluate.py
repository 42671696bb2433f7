"""How good is a table? Measure N sampled subnets whole and compare with the prediction:
share within ±5 % and ±10 %, MAPE, RMSE, Spearman and Kendall rank correlation, and a
predicted-vs-measured scatter plot."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..arch import ArchBatch
from ..deploy.base import MeasureSettings
from ..fileio import atomic_path, atomic_write_json
from .builder import Journal, _run_parallel, measure_arch
from .measure import Measurer
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


def scatter_plot(pred: np.ndarray, meas: np.ndarray, raw: np.ndarray | None, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    lo, hi = float(min(meas.min(), pred.min())) * 0.95, float(max(meas.max(), pred.max())) * 1.05
    ax.plot([lo, hi], [lo, hi], "k-", lw=1, label="y = x")
    ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="0.9", label="±10 %")
    if raw is not None:
        ax.scatter(meas, raw, s=10, c="tab:gray", alpha=0.6, label="sum of ops")
    ax.scatter(meas, pred, s=12, c="tab:blue", label="calibrated prediction")
    ax.set(xlabel="measured latency (ms)", ylabel="predicted latency (ms)", title=title, xlim=(lo, hi), ylim=(lo, hi))
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def evaluate_table(table: LatencyTable, folder: str | Path, backend: str, n: int = 100,
                   settings: MeasureSettings | None = None, serial: str | None = None, seed: int = 1) -> dict[str, Any]:
    """Measure `n` fresh subnets (not the calibration ones), report, plot, and write evaluate.json."""
    from ..supernets import get_supernet

    folder = Path(folder)
    settings = settings or MeasureSettings(warmup=5, runs=30)
    m = Measurer(backend, settings.with_options(serial=serial) if serial else settings)
    archs = ArchBatch.sample(table.spec.space, n, rng=seed, resolutions=table.resolutions).to_archs()
    journal = Journal(folder / "evaluate_journal.jsonl")
    net = get_supernet(table.supernet)
    todo = [a for a in archs if f"net|{a.to_json()}" not in journal.done]
    _run_parallel(todo, lambda mm, a: {"id": f"net|{a.to_json()}", "ms": measure_arch(mm, net, a)}, [m], journal,
                  "evaluate nets")
    meas = np.array([journal.done[f"net|{a.to_json()}"]["ms"] for a in archs])
    raw, pred = table.op_sum(archs), table.predict(archs)
    report = {"table": table.name, "backend": backend, "calibrated": metrics(pred, meas),
              "sum_of_ops": metrics(raw, meas), "settings": settings.to_dict(),
              "plot": "evaluate.png"}
    scatter_plot(pred, meas, raw, folder / "evaluate.png", f"{table.name}: n={n}")
    atomic_write_json(folder / "evaluate.json", report)
    return report
