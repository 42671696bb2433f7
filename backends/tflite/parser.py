"""benchmark_model's text output → numbers. Two kinds of line matter:

    count=144 first=6894 curr=6910 min=6795 max=7395 avg=6943.9 std=93        (one per phase, µs)
    Inference timings in us: Init: 3126, First inference: 7532, Warmup (avg): 7042.79, Inference (avg): 6943.9

The first phase line is the warm-up, the last the timed runs. Older builds print no `INFO: `
prefix; both are accepted."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ofa_deploy.deploy.base import LatencyStats

_PHASE = re.compile(r"count=(\d+)\s+first=([\d.]+)\s+curr=([\d.]+)\s+min=([\d.]+)\s+max=([\d.]+)"
                    r"\s+avg=([\d.e+-]+)\s+std=([\d.e+-]+)")
_SUMMARY = re.compile(r"Inference timings in us: Init: ([\d.e+-]+), First inference: ([\d.e+-]+), "
                      r"Warmup \(avg\): ([\d.e+-]+), Inference \(avg\): ([\d.e+-]+)")
_Z90 = 1.2815515655446004   # normal 90th percentile: benchmark_model prints avg and std, not percentiles


class BenchmarkOutputError(ValueError):
    """benchmark_model output without the timing lines (the run failed or was cut off)."""


@dataclass(frozen=True)
class Phase:
    """One `count=… first=… …` line, in microseconds."""

    count: int
    first: float
    curr: float
    min: float
    max: float
    avg: float
    std: float


@dataclass(frozen=True)
class BenchmarkResult:
    """Everything we read from one benchmark_model run (microseconds)."""

    phases: tuple[Phase, ...]
    init_us: float
    first_us: float
    warmup_avg_us: float
    inference_avg_us: float

    @property
    def inference(self) -> Phase:
        return self.phases[-1]

    def to_stats(self, settings: dict[str, Any], runtime: str, runtime_version: str, device: str) -> LatencyStats:
        """LatencyStats in ms; median and p90 are estimated from avg and std (marked in settings)."""
        p = self.inference
        ms = 1e-3
        extra = {"percentiles": "estimated from benchmark_model avg/std (normal)", "init_ms": self.init_us * ms,
                 "first_inference_ms": self.first_us * ms, "warmup_avg_ms": self.warmup_avg_us * ms}
        return LatencyStats(count=p.count, mean=p.avg * ms, std=p.std * ms, median=p.avg * ms,
                            p90=min(p.max, p.avg + _Z90 * p.std) * ms, min=p.min * ms, max=p.max * ms,
                            settings={**settings, **extra}, runtime=runtime, runtime_version=runtime_version,
                            device=device)


def parse_benchmark_output(text: str) -> BenchmarkResult:
    """Parse a whole benchmark_model log; raise BenchmarkOutputError naming the last lines when the
    timing lines are missing."""
    phases = tuple(Phase(int(m[1]), *map(float, m.groups()[1:])) for m in _PHASE.finditer(text))
    summary = _SUMMARY.search(text)
    if not phases or summary is None:
        tail = " | ".join(text.strip().splitlines()[-3:]) or "(no output)"
        raise BenchmarkOutputError(f"benchmark_model printed no timings (expected 'count=… avg=…' and "
                                   f"'Inference timings in us: …' lines); its output ended with: {tail}")
    return BenchmarkResult(phases, *map(float, summary.groups()))
