"""Timing one module through a backend: export to a scratch folder, measure, clean up. Used for
single ops (table builder) and whole subnets (calibration, evaluation) alike."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch

from ..deploy import get_backend
from ..deploy.base import LatencyStats, MeasureSettings
from ..deploy.timing import measure_artifact
from ..supernets.ops import Op

# A journal entry whose median is this far above its fastest run was disturbed (another process
# took the core): a resumed build times it again.
NOISY_RATIO = 1.5
# A whole network is timed in this many fresh sessions (median of their medians); exporting a net
# costs far more than timing it, so the extra sessions are nearly free.
NET_WINDOWS = 3


def is_noisy(median: float, fastest: float) -> bool:
    """True when a timing's median sits NOISY_RATIO or more above its fastest run."""
    return median > NOISY_RATIO * fastest


@dataclass
class Measurer:
    """A backend plus the settings to time with (threads, runs, adb serial via options, …)."""

    backend_name: str
    settings: MeasureSettings

    def __post_init__(self):
        self.backend = get_backend(self.backend_name)

    def module(self, module: torch.nn.Module, input_shape: tuple[int, ...], name: str = "m",
               settings: MeasureSettings | None = None, windows: int = 1) -> LatencyStats:
        """Export `module` and time it by the one measuring method (deploy.timing.measure_artifact)
        in `windows` fresh sessions: the median of the session medians, with their spread."""
        tmp = Path(tempfile.mkdtemp(prefix="ofa_lut_"))
        try:
            g = torch.Generator().manual_seed(0)
            art = self.backend.export(module.eval(), torch.randn(input_shape, generator=g), tmp, name=name)
            return measure_artifact(self.backend, art, settings or self.settings, sessions=max(1, windows))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def op(self, op: Op, settings: MeasureSettings | None = None) -> LatencyStats:
        return self.module(*_op_module(op), "op", settings)

    @property
    def batch(self) -> int:
        """How many modules one conversion may hold: the backend's optional batched export
        (BackendBase.batch_export), off for adb devices, whose runners take one model per file."""
        o = self.settings.options
        return 0 if o.get("serial") or o.get("adb") else int(getattr(self.backend, "batch_export", 0) or 0)

    def modules(self, items: Sequence[tuple[torch.nn.Module, tuple[int, ...]]], windows: int = 1,
                settings: MeasureSettings | None = None) -> Iterator[LatencyStats]:
        """Several modules converted into one file (one method/signature each, the backend's
        batched export), each then timed on its own exactly as `module` times one: the same
        measuring method, settings and sessions. Yields their stats in order, as each finishes."""
        tmp = Path(tempfile.mkdtemp(prefix="ofa_lut_"))
        try:
            pairs = []
            for module, shape in items:
                g = torch.Generator().manual_seed(0)
                pairs.append((module.eval(), torch.randn(shape, generator=g)))
            for art in self.backend.export_batch(pairs, tmp, name="batch"):
                yield measure_artifact(self.backend, art, settings or self.settings, sessions=max(1, windows))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def ops(self, ops: Sequence[Op], settings: MeasureSettings | None = None) -> Iterator[LatencyStats]:
        """`op` for several ops through one batched conversion (see `modules`)."""
        return self.modules([_op_module(op) for op in ops], 1, settings)

    def describe(self) -> dict:
        return {"backend": self.backend_name, "runtime_version": getattr(self.backend, "runtime_version", lambda: "")(),
                "settings": self.settings.to_dict()}


def _op_module(op: Op) -> tuple[torch.nn.Module, tuple[int, ...]]:
    """An op's module (seeded weights) and its input shape."""
    h, w, c = op.in_shape
    torch.manual_seed(0)
    return op.build(), (1, c, h, w)


def entry_from_stats(stats: LatencyStats) -> dict:
    """A table entry: the official fields first, our extra statistics after."""
    return {"count": stats.count, "mean": round(stats.mean, 6), "std": round(stats.std, 6),
            "median": round(stats.median, 6), "p90": round(stats.p90, 6), "min": round(stats.min, 6),
            "spread": stats.settings.get("spread", 0.0)}
