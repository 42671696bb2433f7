"""The accuracy–latency trade-off as a picture: the front found for each budget, the final
populations behind it, the budgets, and (optionally) published nets for comparison."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import ParetoResult


def plot_front(result: "ParetoResult", path: str | Path, published: list[dict[str, Any]] | None = None,
               title: str | None = None) -> Path:
    """Write a PNG of `result` to `path` (matplotlib, Agg backend) and return the path; the
    drawing (device-labelled axes, non-overlapping labels) is ofa_deploy.plots.front_figure.

    published: optional [{'name', 'latency_ms', 'top1'}] (top-1 in %) drawn as labelled crosses."""
    from ..plots import front_figure, save_png

    return save_png(front_figure(result, published, title), path)
