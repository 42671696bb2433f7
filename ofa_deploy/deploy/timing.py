"""The one measuring method every figure uses (table ops, calibration nets, evaluate, benchmark,
verification): K fresh runtime sessions, interleaved when several artifacts are timed; in each,
warm-up until two windows agree, then timed runs on pinned CPUs; the result is the median of the
session medians, with their spread, and a busy-machine flag from a reference kernel timed around
the measurement. `METHOD` (with the numbers filled in) travels in every LatencyStats' settings."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np

from .base import LatencyStats, MeasureSettings

METHOD = ("median of {k} fresh-session medians; per session ≥{warmup} warm-up runs until two "
          "{window}-run windows agree within {tol:.0%}, then {runs} timed runs; {threads} thread(s)")
SESSIONS = 3               # fresh sessions per artifact (the default everywhere)
STABLE_WINDOW = 5          # warm-up window length (runs)
STABLE_TOL = 0.05          # two consecutive warm-up windows within 5 % = warm
MAX_WARMUP_SECONDS = 0.5   # give up waiting for stability after this long …
MAX_WARMUP_WINDOWS = 8     # … or after this many extra windows
BUSY_RATIO = 1.3           # reference kernel this much slower after than before = disturbed


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


def _warm_up(fn: Callable[[], object], warmup: int) -> int:
    """`warmup` calls, then more until two consecutive windows' medians agree (or time runs out)."""
    for _ in range(warmup):
        fn()
    n, prev, t_end = warmup, None, time.perf_counter() + MAX_WARMUP_SECONDS
    for _ in range(MAX_WARMUP_WINDOWS):
        if time.perf_counter() > t_end:
            break
        w = []
        for _ in range(STABLE_WINDOW):
            t0 = time.perf_counter_ns()
            fn()
            w.append(time.perf_counter_ns() - t0)
        n += STABLE_WINDOW
        med = float(np.median(w))
        if prev is not None and abs(med - prev) <= STABLE_TOL * prev:
            break
        prev = med
    return n


def time_callable(fn: Callable[[], object], settings: MeasureSettings, runtime: str = "",
                  runtime_version: str = "", device: str | None = None,
                  max_seconds: float | None = None) -> LatencyStats:
    """One session: warm up until stable, then time `fn` until `settings.runs` calls and
    `settings.min_seconds` have both passed (or `max_seconds`, a safety cap, has)."""
    with cpu_affinity(settings.cpu_affinity):
        warm = _warm_up(fn, settings.warmup)
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
    stats = LatencyStats.from_samples(samples, settings, runtime, runtime_version, device)
    stats.settings["warmup_runs_done"] = warm
    return stats


def reference_kernel_ms(repeats: int = 5) -> float:
    """Median time of a fixed small numpy matmul: a yardstick for how busy the machine is."""
    a = np.random.default_rng(0).standard_normal((128, 128)).astype(np.float32)
    a @ a   # first call pays for BLAS start-up
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        a @ a
        t.append(time.perf_counter_ns() - t0)
    return float(np.median(t)) / 1e6


def machine_load() -> float:
    """1-minute load average per usable core (0 where the OS does not say)."""
    try:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return os.getloadavg()[0] / cores
    except (OSError, AttributeError):
        return 0.0


def spread(values: Sequence[float]) -> float:
    """(max − min) / median of the session medians, as a fraction."""
    v = np.asarray(values, dtype=np.float64)
    return float((v.max() - v.min()) / np.median(v)) if v.size else 0.0


def combine_sessions(sessions: Sequence[LatencyStats], settings: MeasureSettings, busy: bool = False,
                     load: float = 0.0) -> LatencyStats:
    """K sessions' statistics → one: median of medians (and of p90s), overall min/max, the method."""
    meds = [s.median for s in sessions]
    first = sessions[0]
    # the backend's own facts (remote path, estimate flag, first inference) come from the first session
    s = {**settings.to_dict(), **first.settings, "sessions": len(sessions),
         "session_medians": [round(m, 6) for m in meds], "spread": round(spread(meds), 4),
         "busy": bool(busy), "load_per_core": round(load, 2),
         "method": METHOD.format(k=len(sessions), warmup=settings.warmup, window=STABLE_WINDOW,
                                 tol=STABLE_TOL, runs=settings.runs, threads=settings.threads)}
    return LatencyStats(count=sum(x.count for x in sessions), mean=float(np.mean([x.mean for x in sessions])),
                        std=float(np.median([x.std for x in sessions])), median=float(np.median(meds)),
                        p90=float(np.median([x.p90 for x in sessions])), min=min(x.min for x in sessions),
                        max=max(x.max for x in sessions), settings=s, runtime=first.runtime,
                        runtime_version=first.runtime_version, device=first.device)


def measure_artifacts(backend, artifacts: Sequence, settings: MeasureSettings,
                      sessions: int = SESSIONS) -> list[LatencyStats]:
    """THE measuring method: each artifact in `sessions` fresh sessions (`backend.measure` opens a
    new one per call), interleaved round-robin so a slow spell hits every artifact alike."""
    load, ref0 = machine_load(), reference_kernel_ms()
    per: list[list[LatencyStats]] = [[] for _ in artifacts]
    for _ in range(max(1, sessions)):
        for i, art in enumerate(artifacts):
            per[i].append(backend.measure(art, settings))
    busy = reference_kernel_ms() > BUSY_RATIO * ref0 or load > 1.0
    return [combine_sessions(p, settings, busy, load) for p in per]


def measure_artifact(backend, artifact, settings: MeasureSettings, sessions: int = SESSIONS) -> LatencyStats:
    """One artifact by the measuring method (see measure_artifacts)."""
    return measure_artifacts(backend, [artifact], settings, sessions)[0]


def method_line(stats: LatencyStats) -> str:
    """The method string of a figure, with its spread: for tables, cards and reports."""
    s = stats.settings
    return f"{s.get('method', 'single session')}; spread {100 * s.get('spread', 0):.1f} %" + \
        (" (machine busy)" if s.get("busy") else "")
