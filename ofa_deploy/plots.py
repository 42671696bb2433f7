"""Every picture ofa_deploy draws, drawn once here: the accuracy–latency front (search) and the
predicted-vs-measured scatter (latency tables). Both label their latency axes with the device the
numbers are for, and place point labels so that no two label boxes overlap (a label with no free
place nearby is left out, and the figure says how many were). matplotlib (Agg) is imported only
when a figure is drawn.

    fig = front_figure(result)                # a ParetoResult (or anything with points/cloud/budgets)
    save_png(fig, "front.png")
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

# offsets (points) tried in turn for a point label: close around the point first, then further out
_OFFSETS = [(dx * r, dy * r) for r in (1, 2, 3, 4) for dx, dy in
            ((4, 4), (4, -10), (-4, 4), (-4, -10), (0, 10), (0, -16), (10, -3), (-10, -3))]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def latency_label(what: str, device: str | None) -> str:
    """An axis label for a latency: 'predicted latency on pixel1 (ms)'."""
    return f"{what} latency{f' on {device}' if device else ''} (ms)"


def _overlaps(box, boxes) -> bool:
    return any(box.overlaps(b) for b in boxes)


def place_labels(ax, anchors: Sequence[tuple[float, float]], texts: Sequence[str], fontsize: float = 7,
                 color: str = "black", avoid: Sequence[Any] = ()) -> list:
    """Annotate each (x, y) anchor with its text at the first offset whose box overlaps no label
    placed so far (nor any box in `avoid`, e.g. the legend) and stays inside the axes; a label
    with no such place is not drawn. Call after the figure's layout is final. Returns the drawn
    annotations (their boxes never overlap)."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    taken = [b for b in avoid]
    drawn = []
    for (x, y), text in zip(anchors, texts):
        for dx, dy in _OFFSETS:
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                              color=color, ha="left" if dx >= 0 else "right", annotation_clip=False)
            box = ann.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not _overlaps(box, taken):
                taken.append(box)
                drawn.append(ann)
                break
            ann.remove()
    return drawn


def _finish(fig, ax, labelled: list[tuple[Sequence, Sequence[str], str]], title: str) -> None:
    """Fix the layout, then place every group of labels (so their boxes are final), and say in the
    title how many labels found no free place."""
    fig.tight_layout()
    legend = ax.get_legend()
    avoid = [legend.get_window_extent(fig.canvas.get_renderer())] if legend else []
    drawn = []
    total = 0
    for anchors, texts, color in labelled:
        total += len(texts)
        drawn += place_labels(ax, anchors, texts, color=color, avoid=avoid + [a.get_window_extent() for a in drawn])
    if len(drawn) < total:
        ax.set_title(f"{title}\n({total - len(drawn)} of {total} point labels left out: no free place)",
                     fontsize=9)


def front_figure(result, published: list[dict[str, Any]] | None = None, title: str | None = None):
    """The accuracy–latency front of a ParetoResult: final populations (grey), the front (best per
    budget, labelled with its budget), the budgets, and published nets (top-1 in %) as crosses."""
    plt = _pyplot()
    pts = list(result.points)
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
    for net in published or []:
        ax.scatter([net["latency_ms"]], [net["top1"]], marker="x", color="tab:red", zorder=4)
    lat, acc = pts[0].latency, pts[0].accuracy
    device = lat.get("device") or lat.get("source") or ""
    ax.set_xlabel(latency_label("predicted", device))
    proxy = acc.get("proxy_for") or (acc.get("source") if acc.get("proxy") else None)
    ax.set_ylabel(("predicted top-1 (%)" + (f", proxy: {proxy}" if proxy else "")) if is_acc
                  else f"proxy score ({acc.get('source', 'not an accuracy')})")
    title = title or f"{pts[0].supernet}: accuracy–latency front{f' on {device}' if device else ''}"
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _finish(fig, ax, [(list(zip(xs, ys)), [f"≤{p.limits['latency']:g}" for p in pts], "black"),
                      ([(n["latency_ms"], n["top1"]) for n in published or []],
                       [n.get("name", "") for n in published or []], "tab:red")], title)
    return fig


def latency_scatter_figure(pred, meas, raw, title: str, device: str | None = None):
    """Predicted vs measured latency per subnet (calibrated and, when given, the plain sum of ops)
    against y = x and a ±10 % band."""
    import numpy as np

    plt = _pyplot()
    pred, meas = np.asarray(pred, dtype=float), np.asarray(meas, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 5))
    lo, hi = float(min(meas.min(), pred.min())) * 0.95, float(max(meas.max(), pred.max())) * 1.05
    ax.plot([lo, hi], [lo, hi], "k-", lw=1, label="y = x")
    ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="0.9", label="±10 %")
    if raw is not None:
        ax.scatter(meas, raw, s=10, c="tab:gray", alpha=0.6, label="sum of ops")
    ax.scatter(meas, pred, s=12, c="tab:blue", label="calibrated prediction")
    ax.set(xlabel=latency_label("measured", device), ylabel=latency_label("predicted", device), xlim=(lo, hi),
           ylim=(lo, hi))
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    _finish(fig, ax, [], title)
    return fig


def save_png(fig, path: str | Path, dpi: int = 120) -> Path:
    """Write the figure atomically as a PNG and close it."""
    from .fileio import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    _pyplot().close(fig)
    return path
