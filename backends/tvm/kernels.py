"""Which kernels are worth tuning: time every kernel of the untuned module once on this host (one
compile, one VM call with each kernel call timed in place) and keep the few that hold most of the
time. A subnet's time sits in a handful of its convolutions; reshapes, means and the small convs
cost a microsecond or two each and tuning them would spend the trial budget for nothing."""
from __future__ import annotations

import time

import numpy as np

KEEP_SHARE = 0.99   # tune the biggest kernels until they cover this share of the untuned time
MIN_SHARE = 0.005   # and never one below this share


def kernel_times(mod, target, input_shape, batches: int = 7, calls: int = 3) -> dict[str, float]:
    """Microseconds per call of each kernel (the module's PrimFuncs by name) of `mod` (prepared,
    untuned) run on this host with one thread: the best of `batches` batches of `calls` calls, since
    on a shared host a batch that another process preempted reads many times too slow."""
    import tvm
    from tvm import relax

    vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
    tvm.get_global_func("runtime.config_threadpool")(1, 1)
    kernels = {gv.name_hint for gv, f in mod.functions.items() if isinstance(f, tvm.tirx.PrimFunc)}
    times: dict[str, float] = {}

    def instrument(func, symbol, before_run, ret_value, *args):
        if before_run and symbol in kernels and symbol not in times:
            func(*args)
            best = float("inf")
            for _ in range(batches):
                start = time.perf_counter()
                for _ in range(calls):
                    func(*args)
                best = min(best, time.perf_counter() - start)
            times[symbol] = best / calls * 1e6
        return 0   # VMInstrumentReturnKind.kNoOp: go on with the call

    vm.set_instrument(instrument)
    vm["main"](tvm.runtime.tensor(np.zeros(input_shape, dtype="float32")))
    return times


def select(tasks, times: dict[str, float], max_tasks: int) -> list[int]:
    """Indices of the tasks to tune, biggest first: weight × time until KEEP_SHARE of the total is
    covered, none under MIN_SHARE, at most `max_tasks` (so each gets at least one search round)."""
    cost = [task.weight * times.get(task.task_name, 0.0) for task in tasks]
    total = sum(cost) or 1.0
    chosen, covered = [], 0.0
    for i in sorted(range(len(tasks)), key=lambda i: -cost[i]):
        if covered >= KEEP_SHARE * total or cost[i] < MIN_SHARE * total or len(chosen) >= max(max_tasks, 1):
            break
        chosen.append(i)
        covered += cost[i]
    return chosen or list(range(min(len(tasks), max(max_tasks, 1))))   # no timings: the first ones
