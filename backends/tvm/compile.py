"""torch → Relax IRModule (through ONNX by default, or torch.export) → compiled VM executable →
exported library."""
from __future__ import annotations

import tarfile
import warnings
from pathlib import Path


from ofa_deploy.fileio import atomic_path
from ofa_deploy.plugins.shared import OptionError

FRONTENDS = ("onnx", "torch")


def to_relax(model: torch.nn.Module, example: torch.Tensor, frontend: str, scratch: Path):
    """The Relax IRModule of `model` with its weights bound as constants."""
    import torch   # here, not at import: listing backends must stay torch-free

    if frontend == "onnx":   # the default: the TorchScript ONNX export is the fastest torch → graph path here
        import onnx
        from tvm.relax.frontend.onnx import from_onnx

        from ofa_deploy.deploy.onnx_export import to_onnx

        path = to_onnx(model, example, scratch)
        try:
            return from_onnx(onnx.load(str(path)), shape_dict={"input": list(example.shape)},
                             keep_params_in_input=False)
        finally:
            path.unlink(missing_ok=True)
    if frontend == "torch":
        from tvm.relax.frontend.torch import from_exported_program

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(model.eval(), (example,))
        return from_exported_program(program, keep_params_as_input=False)
    raise OptionError(f"TVM frontend {frontend!r} is not known; expected one of {FRONTENDS}")


def build(mod, target, tune_trials: int = 0, progress: bool = True, input_shape=None):
    """Compile for `target`: legalized and fused, with MetaSchedule's schedules when tune_trials > 0
    (tuned once per target and workload, then taken from the cached database; `input_shape` is
    the input the kernels are timed with to choose which to tune). Returns
    (executable, tuning record: trials, seconds spent tuning now, database folder)."""
    import tvm

    from . import tune

    info = {"trials": tune_trials}
    if tune_trials:
        target = tune.tuning_target(target)
    mod = tune.prepare(mod, target)
    if tune_trials:
        db, seconds = tune.tune(mod, target, tune_trials, input_shape, progress)
        mod = tune.apply(mod, target, db)
        info.update(seconds=round(seconds, 1), database=str(db), records=tune.records(db))
    return tvm.compile(mod, target=target), info


def export(executable, path: Path, form: str, cc: str | None = None) -> list[str]:
    """Write the library ('so': linked shared object; 'tar': objects or C sources) atomically and
    return what it holds."""
    kwargs = {}
    if cc and form == "so":
        from tvm.contrib import cc as tvm_cc

        kwargs["fcompile"] = tvm_cc.cross_compiler(cc)
    with atomic_path(path) as tmp:
        # TVM picks the writer from the suffix, so the temporary name keeps it
        named = tmp.with_name(tmp.name + path.suffix)
        try:
            executable.export_library(str(named), **kwargs)
            named.replace(tmp)
        finally:
            named.unlink(missing_ok=True)
    if form == "tar":
        with tarfile.open(path) as t:
            return t.getnames()
    return [path.name]
