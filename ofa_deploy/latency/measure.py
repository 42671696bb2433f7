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
from ..supernets.ops import Op

# A timing whose median is this far above its fastest run was disturbed (another process took the
# core for most of the window): re-time it, up to NOISY_RETRIES more times, and keep the calmest.
NOISY_RATIO = 1.5
NOISY_RETRIES = 3
# A whole network is timed in this many separate windows, keeping the calmest: a neighbour that
# slows a whole window (its fastest run too) escapes the ratio test above. Exporting a net costs
# far more than timing it, so the extra windows are nearly free.
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
        """Export `module`, time it in `windows` separate windows (plus up to NOISY_RETRIES more
        while the calmest is still noisy) and return the calmest window's statistics."""
        tmp = Path(tempfile.mkdtemp(prefix="ofa_lut_"))
        try:
            g = torch.Generator().manual_seed(0)
            art = self.backend.export(module.eval(), torch.randn(input_shape, generator=g), tmp, name=name)
            timings = [self.backend.measure(art, settings or self.settings) for _ in range(max(1, windows))]
            best = min(timings, key=lambda s: s.median)
            for _ in range(NOISY_RETRIES):
                if not is_noisy(best.median, best.min):
                    break
                again = self.backend.measure(art, settings or self.settings)
                best = min(best, again, key=lambda s: s.median)
            return best
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
            "median": round(stats.median, 6), "p90": round(stats.p90, 6), "min": round(stats.min, 6)}
