"""Plots name the device on their latency axes and never print labels on top of each other
(checked with matplotlib's own text extents on the drawn figure)."""
import itertools

import numpy as np
import pytest

from ofa_deploy.plots import front_figure, latency_scatter_figure, place_labels, save_png
from ofa_deploy.search import EvolutionConfig, search


def label_boxes(fig):
    """Window extents of every point label (annotation) drawn in the figure's axes."""
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for ax in fig.axes for t in ax.texts]


def assert_no_overlap(boxes):
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)


@pytest.fixture(scope="module")
def crowded_front():
    # budgets 0.004 ms apart: labelled at one fixed offset, their "≤…" labels would sit on each other
    budgets = [round(0.14 + 0.004 * i, 3) for i in range(12)]
    return search("tiny", device="onnxruntime-cpu", pareto=budgets, config=EvolutionConfig(population=30,
                  generations=10), cache=False, progress=False)


def test_front_names_the_device_and_its_labels_never_overlap(crowded_front, tmp_path):
    published = [{"name": f"published-net-{i}", "latency_ms": 0.15 + 0.001 * i, "top1": 85.0 + 0.05 * i}
                 for i in range(6)]
    fig = front_figure(crowded_front, published)
    ax = fig.axes[0]
    assert "onnxruntime-cpu" in ax.get_xlabel() and "(ms)" in ax.get_xlabel()
    assert ax.get_ylabel() == "predicted top-1 (%)"
    boxes = label_boxes(fig)
    assert 3 <= len(boxes) <= len(crowded_front) + len(published)
    assert_no_overlap(boxes + [ax.get_legend().get_window_extent()])
    if len(boxes) < len(crowded_front) + len(published):   # what could not be placed is said, not stacked
        assert "point labels left out" in ax.get_title()
    path = save_png(fig, tmp_path / "front.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert crowded_front.plot(tmp_path / "f2.png").stat().st_size > 1000   # the public door draws the same


def test_proxy_objective_says_so_on_the_axis():
    front = search("tiny", device="onnxruntime-cpu", pareto=[0.15, 0.2], accuracy_predictor="macs",
                   config=EvolutionConfig(population=20, generations=5), cache=False, progress=False)
    ax = front_figure(front).axes[0]
    assert ax.get_ylabel().startswith("proxy score") and "onnxruntime-cpu" in ax.get_xlabel()


def test_latency_scatter_labels_both_axes_with_the_device():
    rng = np.random.default_rng(0)
    meas = rng.uniform(0.1, 0.3, 40)
    fig = latency_scatter_figure(meas * 1.05, meas, meas * 0.9, "t", device="litert-cpu")
    ax = fig.axes[0]
    assert "measured latency on litert-cpu" in ax.get_xlabel()
    assert "predicted latency on litert-cpu" in ax.get_ylabel()


def test_labels_on_one_spot_are_spread_or_left_out():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set(xlim=(0, 1), ylim=(0, 1))
    fig.tight_layout()
    drawn = place_labels(ax, [(0.5, 0.5)] * 40, [f"label {i}" for i in range(40)])
    assert 4 <= len(drawn) < 40                  # spread around the point while room lasts, then left out
    assert_no_overlap([a.get_window_extent() for a in drawn])
    plt.close(fig)
