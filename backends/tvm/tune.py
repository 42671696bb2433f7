"""MetaSchedule tuning with a database cached per (target, workload): the fused Relax module's
kernels that hold most of its untuned time (kernels.py) are tuned once within a trial budget
(XGBoost-guided evolutionary search when xgboost is installed and the budget allows more than one
round per kernel, else random sampling), the records go to the user cache (written to a
scratch folder, then renamed into place, so a killed run never leaves half a database), and the
next export of the same workload for the same target applies them without tuning again."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from ofa_deploy.hub import cache_dir
from ofa_deploy.log import is_verbose, native_quiet
from ofa_deploy.plugins.shared import OptionError

from .inprocess import builder_and_runner

LOGGER = logging.getLogger("ofa_deploy")
META = "ofa_deploy_tuning.json"
PER_ROUND = 16   # candidates measured per search round of one kernel


def check_trials(value) -> int:
    """A non-negative int trial budget (0 = untuned)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OptionError(f"tune_trials must be a non-negative integer (0 = untuned), got {value!r}; "
                          f"e.g. tune_trials=256")
    return value


def tuning_target(target):
    """`target` with the 'num-cores' MetaSchedule needs: 1 unless given, since measurements run
    one thread by default (give e.g. "num-cores": 4 in the target to tune for 4 threads)."""
    import tvm

    if "num-cores" in target.attrs:
        return target
    return tvm.target.Target({**target.export(), "num-cores": 1})


def prepare(mod, target):
    """Legalize and fuse: the form MetaSchedule extracts tasks from and applies records to."""
    import tvm
    from tvm import relax

    with target:
        return tvm.transform.Sequential([relax.transform.DecomposeOpsForInference(),
                                         relax.transform.CanonicalizeBindings(),
                                         relax.pipeline.zero_pipeline()])(mod)


def database_dir(mod, target) -> Path:
    """<cache>/tvm-tuning/<target hash>/<workload hash>: one database per target and workload. The
    workload is the module's kernels (its PrimFuncs), not its weights: the same architecture
    retrained or with other BN statistics reuses the schedules, which do not depend on the values."""
    import tvm

    kernels = sorted((gv.name_hint, tvm.ir.save_json(f)) for gv, f in mod.functions.items()
                     if isinstance(f, tvm.tirx.PrimFunc))
    t = hashlib.sha256(str(target).encode()).hexdigest()[:16]
    w = hashlib.sha256(json.dumps(kernels).encode()).hexdigest()[:16]
    return cache_dir() / "tvm-tuning" / t / w


def cached_trials(db: Path) -> int:
    """Trials the cached database at `db` was tuned with (0 when there is none)."""
    try:
        return int(json.loads((db / META).read_text())["trials"])
    except (OSError, ValueError, KeyError):
        return 0


def records(db: Path) -> int:
    """Number of tuning records in the database at `db`."""
    f = db / "database_tuning_record.json"
    return sum(1 for line in f.read_text().splitlines() if line.strip()) if f.is_file() else 0


def tune(mod, target, trials: int, input_shape, progress: bool = True) -> tuple[Path, float]:
    """Tune `mod` (prepared) for `target` unless the cache already holds a database tuned with at
    least `trials` trials; returns (database folder, seconds spent tuning, 0 when reused)."""
    db = database_dir(mod, target)
    if cached_trials(db) >= trials:
        LOGGER.debug("TVM: reusing the tuning database %s (%d trials)", db, cached_trials(db))
        return db, 0.0
    db.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tuning-", dir=db.parent))
    start = time.perf_counter()
    try:
        with native_quiet(), _quiet_meta_schedule():
            _run_tuner(mod, target, trials, scratch, progress, input_shape)
        seconds = time.perf_counter() - start
        keep = [f for f in scratch.iterdir() if f.name.startswith("database_")]
        for f in scratch.iterdir():
            if f not in keep:
                shutil.rmtree(f) if f.is_dir() else f.unlink()
        (scratch / META).write_text(json.dumps({"trials": trials, "target": str(target), "seconds": seconds}))
        os.chmod(scratch, 0o777 & ~_umask())
        if db.exists():
            shutil.rmtree(db)
        scratch.replace(db)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    LOGGER.info("TVM: tuned %d trials in %.0f s (database %s, %d records)", trials, seconds, db, records(db))
    return db, seconds


def apply(mod, target, db: Path):
    """`mod` with the database's best schedules applied to the kernels it holds."""
    from tvm import relax
    from tvm.s_tir import meta_schedule as ms

    if not records(db):   # nothing was worth tuning
        return mod
    with target, ms.database.JSONDatabase(work_dir=str(db), allow_missing=False):
        return relax.transform.MetaScheduleApplyDatabase(enable_warning=False)(mod)


def _run_tuner(mod, target, trials: int, work_dir: Path, progress: bool, input_shape) -> None:
    """Tune the kernels that hold most of the untuned time (kernels.select), `trials` in all."""
    from tqdm.auto import tqdm
    from tvm.s_tir import meta_schedule as ms

    from . import kernels

    bar = tqdm(total=trials, desc="TVM tuning (timing the untuned kernels)", disable=not progress, leave=False,
               mininterval=0.5, file=_terminal())
    try:
        tasks = ms.relax_integration.extract_tasks(mod, target)
        if not tasks:   # nothing to schedule (a module of library calls only)
            return
        per_round = max(4, min(PER_ROUND, trials))
        chosen = [tasks[i] for i in kernels.select(tasks, kernels.kernel_times(mod, target, input_shape),
                                                   trials // per_round)]
        LOGGER.debug("TVM: tuning %d of %d kernels: %s", len(chosen), len(tasks), [t.task_name for t in chosen])
        bar.set_description(f"TVM tuning ({len(chosen)} of {len(tasks)} kernels)")
        # the cost model learns from measured rounds: a budget of one round per kernel never uses it
        guided = _cost_model() == "xgb" and trials > per_round * len(chosen)
        contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
            chosen, str(work_dir), strategy=_search_strategy() if guided else "replay-trace", seed=0)
        builder, runner = builder_and_runner(ms.runner.EvaluatorConfig(number=3, repeat=1, min_repeat_ms=10),
                                             bar.update)
        ms.tune.tune_tasks(
            tasks=contexts, task_weights=weights, work_dir=str(work_dir), max_trials_global=trials,
            num_trials_per_iter=per_round, builder=builder, runner=runner,
            cost_model=_cost_model() if guided else "random",
            measure_callbacks=[ms.measure_callback.AddToDatabase(), ms.measure_callback.UpdateCostModel()])
    finally:
        bar.close()


def _search_strategy():
    """Evolutionary search guided by the cost model, sized for a 2-core host: TVM's defaults (a
    population of 512 evolved 4 times per round) spend ~40 s per round on candidate generation
    there, far more than building and timing the round's candidates."""
    from tvm.s_tir import meta_schedule as ms

    return ms.search_strategy.EvolutionarySearch(population_size=128, init_min_unmeasured=32, genetic_num_iters=2)


def _cost_model() -> str:
    """XGBoost's cost model when xgboost is installed (it guides an evolutionary search), else
    random: then sampling random schedules (replay-trace) is as good and far cheaper."""
    import importlib.util

    return "xgb" if importlib.util.find_spec("xgboost") else "random"


class _quiet_meta_schedule:
    """MetaSchedule logs every round at INFO to the root logger; keep it at WARNING unless verbose."""

    def __enter__(self):
        self.logger = logging.getLogger("tvm.s_tir.meta_schedule")
        self.level = self.logger.level
        if not is_verbose():
            self.logger.setLevel(logging.WARNING)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def _terminal():
    """The progress bar goes to stdout: fd 2 is routed away while tuning (native logs)."""
    import sys

    return sys.stdout


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
