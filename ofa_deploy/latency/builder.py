"""Build a latency table: enumerate the unique ops of a space at the given resolutions, time each
through a backend, then calibrate on whole subnets. Resumable: every measurement is appended to
`journal.jsonl` (flushed and fsync'd) before it counts, so a killed build measures nothing twice
and loses at most the op in flight. Several adb devices (serials) can share one build."""
from __future__ import annotations

import os
import platform
import queue
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from ..arch import ArchBatch
from ..deploy.base import MeasureSettings
from ..fileio import append_jsonl, make_dirs, read_jsonl
from ..registry import get_supernet_record
from ..supernets.ops import Op
from ..errors import BadArgumentError, check_number
from .adapt import N_PARAMS, decide
from .fingerprint import host_fingerprint
from .measure import NET_WINDOWS, Measurer, entry_from_stats, is_noisy
from .table import LatencyTable

JOURNAL = "journal.jsonl"
NET_BATCH = 8   # whole subnets per batched conversion (they are large; ops batch by backend.batch_export)
METHOD_NOTE = (f"ops: 1 fresh session each (a batched backend converts many ops into one file, one "
               f"method/signature each, and times each alone); calibration nets: median of {NET_WINDOWS} fresh-session medians "
               f"(deploy.timing.measure_artifact); warm-up until stable, then timed runs")


def unique_ops(supernet: str, resolutions: Sequence[int]) -> list[tuple[int, Op]]:
    """Every distinct (resolution, op) a subnet of the space can run, in a stable order."""
    spec = get_supernet_record(supernet).spec
    sp = spec.space
    out, seen = [], set()
    for r in resolutions:
        ops = list(spec.fixed_ops(r)) + [spec.block_op(r, i, k, e) for i in range(sp.n_blocks)
                                         for k in sp.ks_choices for e in sp.e_choices]
        for op in ops:
            if (r, op.key) not in seen:
                seen.add((r, op.key))
                out.append((r, op))
    return out


class Journal:
    """Append-only record of finished measurements; a torn last line (kill mid-write) is ignored."""

    def __init__(self, path: Path):
        self.path, self.lock = path, threading.Lock()
        self.done: dict[str, dict] = {}
        for rec in read_jsonl(path):
            if isinstance(rec, dict) and "id" in rec:
                self.done[rec["id"]] = rec

    def add(self, rec: dict) -> None:
        with self.lock:  # starts on a fresh line after a torn one (fileio.append_jsonl)
            append_jsonl(self.path, rec)
            self.done[rec["id"]] = rec


def _seconds_by_kind(records) -> dict[str, float]:
    """Seconds spent measuring ops and whole nets, summed over every run of a resumed build
    (build_seconds_* count only the last run)."""
    out = {"ops": 0.0, "nets": 0.0}
    for rec in records:
        out["nets" if rec["id"].startswith("net|") else "ops"] += rec.get("seconds", 0.0)
    return {k: round(v, 1) for k, v in out.items()}


def _run_parallel(todo: list, work, measurers: list[Measurer], journal: Journal, desc: str,
                  total: int | None = None) -> None:
    """Measure `todo` items with one thread per measurer (one per adb serial), with progress. `work`
    returns one record, or yields several (a batch of ops): each is journaled as soon as it is timed."""
    from tqdm import tqdm

    q: queue.Queue = queue.Queue()
    for item in todo:
        q.put(item)
    bar = tqdm(total=len(todo) if total is None else total, desc=desc,
               unit="op" if desc.startswith("ops") else "net")
    errors: list[BaseException] = []

    def worker(m: Measurer):
        while not errors:
            try:
                item = q.get_nowait()
            except queue.Empty:
                return
            try:
                t0 = time.perf_counter()
                out = work(m, item)
                for rec in [out] if isinstance(out, dict) else out:
                    # summed over resumed runs; a batch's conversion counts towards its first record
                    rec["seconds"] = round(time.perf_counter() - t0, 3)
                    journal.add(rec)
                    bar.update(1)
                    t0 = time.perf_counter()
            except BaseException as exc:  # stop every worker; the journal keeps what finished
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(m,), daemon=True) for m in measurers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    if errors:
        raise errors[0]


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), max(1, size))]


def _arch_module(supernet, arch):
    """A subnet as a standalone module, with its input shape."""
    supernet.set_arch(arch)
    return supernet.get_active_subnet(), (1, supernet.spec.in_channels, arch.r, arch.r)


def measure_arch_stats(m: Measurer, supernet, arch, sessions: int = NET_WINDOWS):
    """A whole subnet timed by the one measuring method: LatencyStats over `sessions` fresh sessions."""
    return m.module(*_arch_module(supernet, arch), "net", windows=sessions)


def measure_arch(m: Measurer, supernet, arch, sessions: int = NET_WINDOWS) -> float:
    """A whole subnet's latency: the median of `sessions` fresh-session medians."""
    return measure_arch_stats(m, supernet, arch, sessions).median


def build_table(supernet: str, backend: str, out_dir: str | Path, resolutions: Sequence[int] | None = None,
                settings: MeasureSettings | None = None, serials: Sequence[str] = (), calibrate: int = 30,
                name: str = "", device: str = "", seed: int = 0) -> LatencyTable:
    """Measure every unique op (resumable), write the official YAML files plus provenance, and fit
    the calibration on `calibrate` whole subnets."""
    from ..supernets import get_supernet

    rec = get_supernet_record(supernet)
    calibrate = check_number("calibrate", calibrate, minimum=0, integer=True)
    if calibrate and calibrate < 3 * N_PARAMS:
        raise BadArgumentError(f"calibrate={calibrate} is too few: the calibration has {N_PARAMS} parameters and "
                               f"needs at least {3 * N_PARAMS} measured subnets (--calibrate {3 * N_PARAMS} or more, "
                               f"or --calibrate 0 for the plain op sum)")
    resolutions = list(rec.space.check_resolutions(resolutions) if resolutions else rec.space.resolutions)
    settings = settings or MeasureSettings(warmup=5, runs=30)
    measurers = [Measurer(backend, settings.with_options(serial=s)) for s in serials] or [Measurer(backend, settings)]
    out = make_dirs(out_dir, "table folder")   # after every check: a refused request writes nothing
    journal = Journal(out / JOURNAL)
    t0 = time.time()
    ops = unique_ops(rec.name, resolutions)
    # on resume, entries timed while something else held the core (median far above the fastest
    # run; journals written before the noise guard) are timed again
    todo = [(r, op) for r, op in ops if f"{r}|{op.key}" not in journal.done
            or is_noisy(journal.done[f"{r}|{op.key}"]["entry"]["median"], journal.done[f"{r}|{op.key}"]["entry"]["min"])]

    def work_ops(m: Measurer, batch):
        # a batched backend converts the whole batch into one file; each op is still timed alone
        stats = m.ops([op for _, op in batch]) if m.batch > 1 else (m.op(op) for _, op in batch)
        for (r, op), st in zip(batch, stats):
            yield {"id": f"{r}|{op.key}", "r": r, "key": op.key, "entry": entry_from_stats(st),
                   "serial": m.settings.options.get("serial")}

    batch = measurers[0].batch or 1
    _run_parallel(_chunks(todo, batch), work_ops, measurers, journal, f"ops ({len(ops) - len(todo)} done before)",
                  total=len(todo))
    entries: dict[int, dict] = {r: {} for r in resolutions}
    for r, op in ops:
        entries[r][op.key] = journal.done[f"{r}|{op.key}"]["entry"]
    op_seconds = time.time() - t0
    table = LatencyTable(rec.name, entries, "measured", name=name or f"{rec.name}/{device or backend}")
    cal_archs = ArchBatch.sample(rec.space, calibrate, rng=seed + 1000, resolutions=resolutions).to_archs()
    net = get_supernet(rec.name)
    todo_nets = [a for a in cal_archs if f"net|{a.to_json()}" not in journal.done]
    def work_nets(m: Measurer, archs):
        if m.batch > 1:   # one batched conversion; each net timed alone in NET_WINDOWS sessions
            stats = m.modules([_arch_module(net, a) for a in archs], NET_WINDOWS)
        else:
            stats = (measure_arch_stats(m, net, a) for a in archs)
        for a, st in zip(archs, stats):
            yield {"id": f"net|{a.to_json()}", "ms": st.median}

    _run_parallel(_chunks(todo_nets, min(NET_BATCH, measurers[0].batch or 1)), work_nets, measurers[:1], journal,
                  "calibration nets", total=len(todo_nets))
    cal_report = None
    if calibrate:  # kept only if it beats the plain sum on held-out nets (adapt.decide)
        measured = np.array([journal.done[f"net|{a.to_json()}"]["ms"] for a in cal_archs])
        table.calibration, cal_report = decide(table, cal_archs, measured, seed)
    table.provenance = {
        "name": table.name, "backend": backend, "device": device or f"{backend} on {platform.node()}",
        "host": platform.node(), "machine": platform.machine(), "processor": platform.processor(),
        "cpu_count": os.cpu_count(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fingerprint": host_fingerprint(backend), "method": METHOD_NOTE,
        **measurers[0].describe(), "serials": list(serials), "ops_measured": len(ops),
        "ops_per_conversion": measurers[0].batch or 1,
        "build_seconds_ops": round(op_seconds, 1), "build_seconds_total": round(time.time() - t0, 1),
        "measure_seconds_all_runs": _seconds_by_kind(journal.done.values()),
        "calibration_check": cal_report,
        "predictor": "sum of op medians (the official rule uses the mean; both are stored), then calibration",
    }
    table.save(out)
    return table
