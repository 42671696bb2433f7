"""MetaSchedule tuning with a database cached per (target, workload): the fused Relax module's
kernels are tuned once within a trial budget, the records go to the user cache (written to a
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
    """<cache>/tvm-tuning/<target hash>/<workload hash>: one database per target and workload."""
    import tvm

    t = hashlib.sha256(str(target).encode()).hexdigest()[:16]
    w = hashlib.sha256(tvm.ir.save_json(mod).encode()).hexdigest()[:16]
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


def tune(mod, target, trials: int, progress: bool = True) -> tuple[Path, float]:
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
            _run_tuner(mod, target, trials, scratch, progress)
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

    with target, ms.database.JSONDatabase(work_dir=str(db), allow_missing=False):
        return relax.transform.MetaScheduleApplyDatabase(enable_warning=False)(mod)


def _run_tuner(mod, target, trials: int, work_dir: Path, progress: bool) -> None:
    from tqdm.auto import tqdm
    from tvm.s_tir import meta_schedule as ms

    tasks = ms.relax_integration.extract_tasks(mod, target)
    builder, runner = builder_and_runner(ms.runner.EvaluatorConfig(number=3, repeat=1, min_repeat_ms=10))
    bar = tqdm(total=trials, desc=f"TVM tuning ({len(tasks)} kernels)", disable=not progress, leave=False,
               mininterval=0.5, file=_terminal())
    try:
        ms.relax_integration.tune_relax(
            mod, {}, target, str(work_dir), max_trials_global=trials,
            num_trials_per_iter=min(64, max(8, trials // max(len(tasks), 1))),
            builder=builder, runner=runner, cost_model=_cost_model(),
            strategy="evolutionary" if _cost_model() == "xgb" else "replay-trace",
            measure_callbacks=[ms.measure_callback.AddToDatabase(), ms.measure_callback.UpdateCostModel(),
                               _progress_callback(bar)], seed=0)
    finally:
        bar.close()


def _cost_model() -> str:
    """XGBoost's cost model when xgboost is installed (it guides an evolutionary search), else
    random: then sampling random schedules (replay-trace) is as good and far cheaper."""
    import importlib.util

    return "xgb" if importlib.util.find_spec("xgboost") else "random"


def _progress_callback(bar):
    from tvm.s_tir import meta_schedule as ms
    from tvm.ir.utils import derived_object

    @derived_object
    class Progress(ms.measure_callback.PyMeasureCallback):
        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            bar.update(len(measure_candidates))

    return Progress()


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
