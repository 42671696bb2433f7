"""MetaSchedule builder and runner that work in this process. TVM's LocalBuilder/LocalRunner
start worker processes that each import TVM (tens of seconds on a busy 2-core host, every round
for the builder); for host CPU kernels building and timing here is as safe and far faster."""
from __future__ import annotations

import itertools


def builder_and_runner(evaluator_config, on_run=None):
    """(builder, runner) sharing one in-memory store of built kernels; `on_run(n)` is told as each
    batch of n candidates has been timed (MetaSchedule itself reports results only when it next
    visits the task, minutes later in its first round over all tasks)."""
    from tvm.ir.utils import derived_object
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build
    from tvm.s_tir.meta_schedule.runner.local_runner import LocalRunnerFuture, default_alloc_argument
    from tvm.s_tir.meta_schedule.runner.utils import run_evaluator_common

    built = {}
    counter = itertools.count()

    @derived_object
    class Builder(ms.builder.PyBuilder):
        def build(self, build_inputs):
            results = []
            for inp in build_inputs:
                try:
                    key = f"inprocess:{next(counter)}"
                    built[key] = default_build(inp.mod, inp.target, None)
                    results.append(ms.builder.BuilderResult(key, None))
                except Exception as exc:  # a candidate that does not compile is a failed trial
                    results.append(ms.builder.BuilderResult(None, f"build failed: {exc}"))
            return results

    @derived_object
    class Runner(ms.runner.PyRunner):
        def run(self, runner_inputs):
            import tvm

            futures = []
            for inp in runner_inputs:
                module = built.pop(str(inp.artifact_path), None)
                try:
                    device = tvm.runtime.device(str(inp.device_type), 0)
                    args = default_alloc_argument(device, tuple(a.as_json() for a in inp.args_info), 1)
                    futures.append(LocalRunnerFuture(res=run_evaluator_common(module, device, evaluator_config,
                                                                              args)))
                except Exception as exc:
                    futures.append(LocalRunnerFuture(error_message=f"run failed: {exc}"))
            if on_run is not None:
                on_run(len(futures))
            return futures

    return Builder(), Runner()
