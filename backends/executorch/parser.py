"""ExecuTorch executor_runner's log → numbers. Its ET_LOG lines look like

    I 00:00:00.004113 executorch:executor_runner.cpp:312] Model loaded in 3.214000 ms.
    I 00:00:00.005021 executorch:executor_runner.cpp:560] Iteration 1 of 60: 0.612000 ms
    I 00:00:00.041771 executorch:executor_runner.cpp:571] Model executed successfully 60 time(s) in 36.700000 ms.

The runner has no warm-up flag, so the caller runs warm-up + timed iterations and the first
`warmup` iteration lines are dropped here; the rest are real per-run samples (true median/p90)."""
from __future__ import annotations

import re
from dataclasses import dataclass

_ITER = re.compile(r"\] Iteration (\d+) of (\d+): ([\d.e+-]+) ms")
_DONE = re.compile(r"\] Model executed successfully (\d+) time\(s\) in ([\d.e+-]+) ms")
_LOAD = re.compile(r"\] Model loaded in ([\d.e+-]+) ms")


class RunnerOutputError(ValueError):
    """executor_runner output without the timing lines (the run failed or was cut off)."""


@dataclass(frozen=True)
class RunnerResult:
    """Per-iteration times (ms) of one executor_runner run, warm-up included, and the load time."""

    iterations_ms: tuple[float, ...]
    total_ms: float
    load_ms: float | None

    def timed(self, warmup: int) -> list[float]:
        return list(self.iterations_ms[warmup:])


def parse_runner_output(text: str) -> RunnerResult:
    """Parse a whole executor_runner log; raise RunnerOutputError naming the last lines when the
    'Iteration … ms' / 'Model executed successfully' lines are missing or disagree."""
    iters = [(int(m[1]), float(m[3])) for m in _ITER.finditer(text)]
    done = _DONE.search(text)
    if not iters or done is None or len(iters) != int(done[1]):
        tail = " | ".join(text.strip().splitlines()[-3:]) or "(no output)"
        raise RunnerOutputError(f"executor_runner printed no complete timings (expected 'Iteration i of N: … ms' "
                                f"lines and 'Model executed successfully N time(s)'); its output ended with: {tail}")
    load = _LOAD.search(text)
    return RunnerResult(tuple(ms for _, ms in iters), float(done[2]), float(load[1]) if load else None)
