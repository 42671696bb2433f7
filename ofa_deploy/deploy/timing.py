"""The one timing loop every in-process measurer uses: warm-up, then timed runs until both the
run count and the minimum time are reached, pinned to the requested CPUs where the OS allows."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from .base import LatencyStats, MeasureSettings


@contextmanager
def cpu_affinity(cpus: tuple[int, ...] | None) -> Iterator[None]:
    """Pin this process to `cpus` for the duration (Linux); elsewhere a no-op."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def time_callable(fn: Callable[[], object], settings: MeasureSettings, runtime: str = "",
                  runtime_version: str = "", device: str | None = None,
                  max_seconds: float | None = None) -> LatencyStats:
    """Call `fn` `settings.warmup` times, then time it until `settings.runs` calls and
    `settings.min_seconds` have both passed (or `max_seconds`, a safety cap, has)."""
    with cpu_affinity(settings.cpu_affinity):
        for _ in range(settings.warmup):
            fn()
        samples: list[float] = []
        start = time.perf_counter()
        while True:
            t0 = time.perf_counter_ns()
            fn()
            samples.append((time.perf_counter_ns() - t0) / 1e6)
            elapsed = time.perf_counter() - start
            if len(samples) >= settings.runs and elapsed >= settings.min_seconds:
                break
            if max_seconds is not None and elapsed >= max_seconds and samples:
                break
    return LatencyStats.from_samples(samples, settings, runtime, runtime_version, device)
