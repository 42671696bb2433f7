"""A benchmark_model stand-in: runs the .tflite on ai-edge-litert with the given flags and
prints the real tool's log format (warm-up phase, timed phase, the 'Inference timings in us'
summary). `--use_gpu=true` prints the GPU delegate lines but runs on the CPU (no GPU here)."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

_DEFAULTS = {"num_threads": "-1", "warmup_runs": "1", "num_runs": "50", "min_secs": "1",
             "warmup_min_secs": "0.5", "max_secs": "150", "use_gpu": "false", "graph": ""}


def parse_flags(args: list[str]) -> dict[str, str]:
    """`--name=value` flags over the tool's defaults; unknown flags are kept (the real tool warns)."""
    flags = dict(_DEFAULTS)
    for a in args:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            flags[k] = v
    return flags


def run_benchmark(args: list[str], to_host: Callable[[str], Path], emit: Callable[[str], None],
                  before_run: Callable[[], None] = lambda: None) -> None:
    """Benchmark `--graph` and emit the log line by line. `to_host` maps device paths."""
    f = parse_flags(args)
    threads = int(f["num_threads"])
    use_gpu = f["use_gpu"].lower() in ("1", "true")
    emit("INFO: STARTING!")
    emit("INFO: Log parameter values verbosely: [0]")
    emit(f"INFO: Min num runs: [{f['num_runs']}]")
    emit(f"INFO: Min runs duration (seconds): [{f['min_secs']}]")
    emit(f"INFO: Num threads: [{threads}]")
    emit(f"INFO: Min warmup runs: [{f['warmup_runs']}]")
    emit(f"INFO: Graph: [{f['graph']}]")
    if use_gpu:
        emit("INFO: Use gpu: [1]")
    emit(f"INFO: #threads used for CPU inference: [{threads}]")
    path = to_host(f["graph"]) if f["graph"] else None
    if path is None or not path.is_file():
        emit(f"ERROR: Could not open '{f['graph']}'.")
        emit("ERROR: Benchmarking failed.")
        return
    emit(f"INFO: Loaded model {f['graph']}")
    before_run()
    t0 = time.perf_counter()
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=threads if threads > 0 else None)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    init_us = (time.perf_counter() - t0) * 1e6
    emit("INFO: Initialized TensorFlow Lite runtime.")
    if use_gpu:
        emit("INFO: Created TensorFlow Lite delegate for GPU.")
        emit("INFO: GPU delegate created.")
    emit("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    emit(f"INFO: The input model file size (MB): {path.stat().st_size / 1e6:g}")
    emit(f"INFO: Initialized session in {init_us / 1e3:g}ms.")
    warm = _phase(interp.invoke, int(f["warmup_runs"]), float(f["warmup_min_secs"]), float(f["max_secs"]), emit)
    timed = _phase(interp.invoke, int(f["num_runs"]), float(f["min_secs"]), float(f["max_secs"]), emit)
    emit(f"INFO: Inference timings in us: Init: {init_us:.0f}, First inference: {warm[0]:.0f}, "
         f"Warmup (avg): {statistics.fmean(warm):g}, Inference (avg): {statistics.fmean(timed):g}")
    emit("INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE "
         "to the actual memory footprint of the model at runtime. Take the information at your discretion.")
    emit("INFO: Memory footprint delta from the start of the tool (MB): init=0 overall=0")


def _phase(fn, runs: int, min_secs: float, max_secs: float, emit) -> list[float]:
    emit(f"INFO: Running benchmark for at least {runs} iterations and at least {min_secs:g} seconds but "
         f"terminate if exceeding {max_secs:g} seconds.")
    samples: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
        elapsed = time.perf_counter() - start
        if (len(samples) >= max(runs, 1) and elapsed >= min_secs) or elapsed >= max_secs:
            break
    emit(f"INFO: count={len(samples)} first={samples[0]:.0f} curr={samples[-1]:.0f} min={min(samples):.0f} "
         f"max={max(samples):.0f} avg={statistics.fmean(samples):g} std={statistics.pstdev(samples):.0f}")
    emit("")
    return samples
