"""`ofa_deploy.benchmark(model, backends=…)`: export to each backend, validate, measure, and
collect one table. A failing backend becomes a ❌ row with its reason; the loop goes on."""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from ..fileio import atomic_path, atomic_write_json
from ..errors import BackendUnavailableError
from . import get_backend, list_backends
from .base import MeasureSettings
from .export import export
from .inputs import check_calibration, check_input
from .timing import SESSIONS, measure_artifact


def check_targets(names: Sequence[str], settings: MeasureSettings) -> None:
    """Before any export: every backend name is known (a missing runtime stays a ❌ row), and an
    adb serial in the settings answers (connect test) on each backend that measures over adb."""
    where = {name: getattr(get_backend(name, check=False), "measures", "here") for name in names}  # unknown: listed
    idle = [n for n, w in where.items() if w not in ("here", "estimate")]
    if idle and len(idle) == len(names):   # e.g. only Core ML off macOS: it would export, then time nothing
        from ..errors import BadArgumentError   # (beside a backend that times, it stays a ➖ row: exported + checked)

        raise BadArgumentError(f"{', '.join(f'{n} ({where[n]})' for n in idle)} cannot time models on this host, so "
                               f"this benchmark would measure nothing; add a backend that measures here to "
                               f"backends=, or export with `ofa-deploy export -f {idle[0]}` (exported and "
                               f"spec-checked here) and benchmark where it runs", "backends")
    serial = settings.options.get("serial")
    if serial:
        takers = [n for n in names if hasattr(get_backend(n, check=False), "connect")]
        if not takers:
            from ..errors import BadArgumentError

            raise BadArgumentError(f"adb serial {serial!r} given, but none of {list(names)} measures over adb; "
                                   f"drop --serial or add a backend that does (tflite)")
        for n in takers:
            get_backend(n, check=False).connect(serial)

COLUMNS = ("backend", "format", "precision", "status", "size_mb", "max_abs_diff", "top1_agreement",
           "median_ms", "p90_ms", "spread_pct", "fps", "predicted_ms", "budget_ms", "flag")
OFF_PREDICTION = 0.10   # a measured median this far from the prediction gets ⚠


@dataclass
class BenchmarkRow:
    backend: str
    format: str = ""
    precision: str = "fp32"
    status: str = ""
    size_mb: float | None = None
    max_abs_diff: float | None = None
    top1_agreement: float | None = None
    median_ms: float | None = None
    p90_ms: float | None = None
    fps: float | None = None
    spread_pct: float | None = None     # (max − min) / median of the session medians, %
    predicted_ms: float | None = None
    budget_ms: float | None = None
    flag: str = ""                      # ⚠ over budget / >10 % off the prediction
    artifact: str = ""
    latency: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Nothing failed (✅ measured, or ➖ exported and checked where the host cannot time it)."""
        return not self.status.startswith("❌")


@dataclass
class BenchmarkResult:
    rows: list[BenchmarkRow]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.rows]

    @property
    def ok(self) -> bool:
        """Every row measured (no ❌)."""
        return all(r.ok for r in self.rows)

    def save(self, out_dir: str | Path, stem: str = "benchmark") -> tuple[Path, Path]:
        out_dir = Path(out_dir)
        atomic_write_json(out_dir / f"{stem}.json", self.to_dicts())
        with atomic_path(out_dir / f"{stem}.csv") as tmp, open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(self.to_dicts())
        return out_dir / f"{stem}.json", out_dir / f"{stem}.csv"

    def table(self, title: str = "Benchmark"):
        from rich.table import Table

        t = Table(title=title)
        for c in ("Backend", "Format", "Precision", "Status", "Size MB", "Parity", "Median ms", "p90 ms",
                  "Spread %", "FPS", "Predicted ms", "Budget ms", "⚠"):
            t.add_column(c, justify="left" if c in ("Backend", "Format", "Status") else "right")
        f = lambda v, p=2: "" if v is None else f"{v:.{p}f}"
        for r in self.rows:
            parity = "" if r.max_abs_diff is None else f"{r.max_abs_diff:.1e} / {100 * (r.top1_agreement or 0):.0f}%"
            t.add_row(r.backend, r.format, r.precision, r.status, f(r.size_mb, 1), parity, f(r.median_ms, 3),
                      f(r.p90_ms, 3), f(r.spread_pct, 1), f(r.fps, 0), f(r.predicted_ms, 3), f(r.budget_ms, 2),
                      r.flag)
        methods = {r.latency.get("settings", {}).get("method") for r in self.rows if r.latency}
        if methods - {None}:
            t.caption = "method: " + "; ".join(sorted(methods - {None}))
        return t

    def print(self, title: str = "Benchmark") -> None:
        from rich.console import Console

        Console(width=160).print(self.table(title))


def clip(text: str, n: int) -> str:
    """The first line of `text`, at most `n` characters, cut at a word boundary (never mid-word)."""
    line = (text.splitlines() or [""])[0]
    if len(line) <= n:
        return line
    cut = line[: n - 2]   # room for " …"
    cut = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return cut.rstrip(" ,;:") + " …"


def default_backends() -> list[str]:
    """Installed backends that measure on this host (not estimate-only ones such as accel, nor
    Core ML off macOS): a plugin says so in its `measures` attribute."""
    return [b.name for b in list_backends() if b.available and b.measures == "here"]


def benchmark(model: torch.nn.Module, backends: Sequence[str] | None = None, precisions: Sequence[str] = ("fp32",),
              settings: MeasureSettings | None = None, out_dir: str | Path = "benchmark_out",
              example_input: torch.Tensor | None = None, calibration=None, progress: bool = True,
              predicted: dict[str, float] | None = None, budget_ms: float | None = None,
              sessions: int = SESSIONS) -> BenchmarkResult:
    """Export `model` to each backend × precision, validate and measure it; never stops at a failure.

    predicted: backend name → predicted ms, shown beside the measurement (default: the model card's
    prediction, for the backend it was made for). budget_ms: default the card's latency constraint.
    Each artifact is timed by the one measuring method (deploy.timing.measure_artifact)."""
    settings = settings or MeasureSettings()
    names = list(backends) if backends else default_backends()
    check_targets(names, settings)
    check_input(model, example_input)          # a wrong input fails once, here, not as a ❌ in every row
    check_calibration(model, calibration)
    card = getattr(model, "card", None) or {}
    if budget_ms is None:
        budget_ms = (card.get("constraints") or {}).get("latency")
    rows = []
    for name in names:
        for precision in precisions:
            row = BenchmarkRow(name, precision=precision)
            try:
                backend = get_backend(name)
                art = export(model, name, Path(out_dir) / name, precision=precision, example_input=example_input,
                             calibration=calibration)
                row.format, row.size_mb, row.artifact = art.format, art.size_mb, str(art.path)
                parity = art.card.get("parity") or {}
                row.max_abs_diff, row.top1_agreement = parity.get("max_abs_diff"), parity.get("top1_agreement")
                try:
                    stats = measure_artifact(backend, art, settings, sessions)
                except BackendUnavailableError as exc:
                    if backend.can_run(art):
                        raise
                    # e.g. Core ML on Linux: exported and spec-checked, but this host cannot time it
                    row.status = f"➖ exported + checked; {clip(str(exc).split(';')[0], 100)}"
                    rows.append(_predicted(row, name, card, predicted))
                    continue
                row.median_ms, row.p90_ms = stats.median, stats.p90
                row.spread_pct = 100 * stats.settings.get("spread", 0.0)
                row.fps = 1000.0 / stats.headline if stats.headline else None
                row.latency = stats.to_dict()
                row.status = "✅" + (" (estimate)" if stats.settings.get("estimate") else "")
            except Exception as exc:  # recorded, never fatal: the table is the point
                row.status = f"❌ {type(exc).__name__}: {clip(str(exc), 120)}"
            rows.append(_flag(_predicted(row, name, card, predicted), budget_ms))
    result = BenchmarkResult(rows)
    result.save(out_dir)
    if progress:
        result.print()
    return result


def _predicted(row: BenchmarkRow, name: str, card: dict, predicted: dict[str, float] | None) -> BenchmarkRow:
    pred = card.get("predicted_latency") or {}
    if predicted and name in predicted:
        row.predicted_ms = predicted[name]
    elif pred.get("backend") == name:
        row.predicted_ms = pred.get("ms")
    return row



def _flag(row: BenchmarkRow, budget_ms: float | None) -> BenchmarkRow:
    """⚠ with the reason when the measured median is over budget or >10 % off the prediction."""
    row.budget_ms = budget_ms
    if row.median_ms is None:
        return row
    why = []
    if budget_ms is not None and row.median_ms > budget_ms:
        why.append("over budget")
    if row.predicted_ms and abs(row.median_ms - row.predicted_ms) > OFF_PREDICTION * row.predicted_ms:
        why.append(f"{100 * (row.median_ms / row.predicted_ms - 1):+.0f} % vs predicted")
    row.flag = ("⚠ " + ", ".join(why)) if why else ""
    return row
