"""Timing one module through a backend: export to a scratch folder, measure, clean up. Used for
single ops (table builder) and whole subnets (calibration, evaluation) alike."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

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
        h, w, c = op.in_shape
        torch.manual_seed(0)
        return self.module(op.build(), (1, c, h, w), "op", settings)

    def describe(self) -> dict:
        return {"backend": self.backend_name, "runtime_version": getattr(self.backend, "runtime_version", lambda: "")(),
                "settings": self.settings.to_dict()}


def entry_from_stats(stats: LatencyStats) -> dict:
    """A table entry: the official fields first, our extra statistics after."""
    return {"count": stats.count, "mean": round(stats.mean, 6), "std": round(stats.std, 6),
            "median": round(stats.median, 6), "p90": round(stats.p90, 6), "min": round(stats.min, 6),
            "spread": stats.settings.get("spread", 0.0)}
