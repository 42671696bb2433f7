"""The accuracy–latency trade-off as a picture: the front found for each budget, the final
populations behind it, the budgets, and (optionally) published nets for comparison."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import ParetoResult


def plot_front(result: "ParetoResult", path: str | Path, published: list[dict[str, Any]] | None = None,
               title: str | None = None) -> Path:
    """Write a PNG of `result` to `path` (matplotlib, Agg backend) and return the path.

    published: optional [{'name', 'latency_ms', 'top1'}] (top-1 in %) drawn as labelled crosses."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from ..fileio import atomic_path

    pts = result.points
    is_acc = all(p.predicted_accuracy is not None for p in pts)
    scale = 100.0 if is_acc else 1.0
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    cloud = result.cloud
    if cloud.get("latency"):
        ax.scatter(cloud["latency"], [scale * s for s in cloud["score"]], s=6, c="0.75", label="final populations",
                   zorder=1)
    for b in result.budgets:
        ax.axvline(b, color="0.85", lw=0.8, ls="--", zorder=0)
    xs, ys = [p.values["latency"] for p in pts], [scale * p.score for p in pts]
    ax.plot(xs, ys, "o-", color="tab:blue", lw=1.8, label="front (best per budget)", zorder=3)
    for p, x, y in zip(pts, xs, ys):
        ax.annotate(f"≤{p.limits['latency']:g}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    for net in published or []:
        ax.scatter([net["latency_ms"]], [net["top1"]], marker="x", color="tab:red", zorder=4)
        ax.annotate(net.get("name", ""), (net["latency_ms"], net["top1"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=6, color="tab:red")
    device = pts[0].latency.get("device") or pts[0].latency.get("source", "")
    ax.set_xlabel(f"predicted latency (ms){' on ' + device if device else ''}")
    ax.set_ylabel("predicted top-1 (%)" if is_acc else "proxy score")
    ax.set_title(title or f"{pts[0].supernet}: accuracy–latency front")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
