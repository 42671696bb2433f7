"""An executor_runner stand-in: runs the pushed .pte on this host's ExecuTorch runtime (XNNPACK
built in) with the real tool's flags (--model_path, --num_executions, --cpu_threads,
--print_output) and prints its ET_LOG lines (`I hh:mm:ss.us executorch:file:line] message`)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

_DEFAULTS = {"model_path": "model.pte", "num_executions": "1", "cpu_threads": "-1", "print_output": "summary",
             "method_name": ""}
_START = time.monotonic()


def _log(emit, line: int, msg: str, level: str = "I") -> None:
    t = time.monotonic() - _START
    emit(f"{level} {int(t // 3600):02d}:{int(t // 60 % 60):02d}:{int(t % 60):02d}.{int(t % 1 * 1e6):06d} "
         f"executorch:executor_runner.cpp:{line}] {msg}")


def run_executor_runner(args: list[str], to_host: Callable[[str], Path], emit: Callable[[str], None],
                        before_run: Callable[[], None] = lambda: None) -> None:
    """Run `--model_path` `--num_executions` times with inputs of ones, as the real runner does."""
    flags = dict(_DEFAULTS)
    for a in args:
        k, _, v = a.lstrip("-").partition("=")
        if k not in flags:
            _log(emit, 410, f"Extra commandline args: {a}", "E")
            return
        flags[k] = v
    import torch
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime

    threads = int(flags["cpu_threads"])
    n = threads if threads > 0 else 1
    _log(emit, 432, f"Resetting threadpool with num threads = {n}")
    portable_lib._unsafe_reset_threadpool(n)
    path = to_host(flags["model_path"])
    t0 = time.perf_counter()
    try:
        program = Runtime.get().load_program(str(path))
    except (RuntimeError, ValueError, OSError):
        _log(emit, 560, f"FileDataLoader::from() failed: 0x22", "E")
        return
    _log(emit, 573, f"Model file {flags['model_path']} is loaded.")
    method_name = flags["method_name"] or sorted(program.method_names)[0]
    _log(emit, 582, f"Using method {method_name}")
    method = program.load_method(method_name)
    _log(emit, 707, f"Model loaded in {(time.perf_counter() - t0) * 1e3:f} ms.")
    meta = method.metadata
    inputs = []
    for i in range(meta.num_inputs()):
        info = meta.input_tensor_meta(i)
        inputs.append(torch.ones(tuple(info.sizes()), dtype=_dtype(info.dtype())))
    before_run()
    total, runs = 0.0, int(flags["num_executions"])
    for i in range(runs):
        t0 = time.perf_counter()
        outputs = method.execute(inputs)
        dt = (time.perf_counter() - t0) * 1e3
        total += dt
        _log(emit, 849, f"Iteration {i + 1} of {runs}: {dt:f} ms")
    _log(emit, 860, f"Model executed successfully {runs} time(s) in {total:f} ms.")
    _log(emit, 867, f"{len(outputs)} outputs: ")
    if flags["print_output"] == "summary":
        for i, out in enumerate(outputs):
            vals = ", ".join(f"{v:g}" for v in out.flatten()[:100].tolist())
            emit(f"OutputX {i}: tensor(sizes=[{', '.join(str(d) for d in out.shape)}], [{vals}])")


def _dtype(code: int):
    import torch

    return {5: torch.float16, 6: torch.float32, 1: torch.int8, 3: torch.int32}.get(int(code), torch.float32)
