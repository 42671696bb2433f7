"""TVM backend (apache-tvm Relax): compile a torch module through ONNX (default) or torch.export
for a target given as a JSON dict, export a library (`.so` when it can be linked here, else a
`.tar` of objects or C sources), run it with the Relax VM and time it — locally with the core
timing loop around the VM call, or on a device through TVM RPC with TVM's time_evaluator."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.deploy.plugin import BackendBase
from ofa_deploy.deploy.timing import time_callable
from ofa_deploy.errors import BackendUnavailableError
from ofa_deploy.fileio import atomic_path
from ofa_deploy.plugins.shared import OptionError

from . import compile as tvm_compile
from .remote import measure_remote
from .tune import check_trials
from .target import export_form, parse_target, runs_here

CARD_MEMBER = "ofa_deploy_card.json"


def tuning_label(trials: int) -> str:
    """What the benchmark table shows beside the format: 'untuned' or 'tuned (N trials)'."""
    return f"tuned ({trials} trials)" if trials else "untuned"


class TVMBackend(BackendBase):
    name = "tvm"
    formats = ("tvm",)
    precisions = ("fp32",)
    extra = "tvm"
    modules = ("tvm", "onnx")
    packages = ("apache-tvm", "apache-tvm-ffi", "onnx")

    def export(self, model, example_input, out_dir: Path, precision: str = "fp32", format: str | None = None,
               calibration=None, name: str = "model", target=None, frontend: str = "onnx", cc: str | None = None,
               tune_trials: int = 0, progress: bool = True, **options) -> Artifact:
        """Options: target (dict, JSON string or .json file; default llvm for this host's CPU),
        frontend ('onnx' or 'torch'), cc (a cross compiler that links a .so for a cross target),
        tune_trials (MetaSchedule trial budget; 0 = untuned; the database is cached per target and
        workload in the user cache and reused by the next export)."""
        if options:
            raise OptionError(f"the tvm backend does not take export option(s) {sorted(options)}; it accepts: "
                              f"{', '.join(self.export_options())}")
        self.import_runtime("tvm")
        trials = check_trials(tune_trials)
        tgt, spec = parse_target(target)
        out_dir = Path(out_dir)
        mod = tvm_compile.to_relax(model, example_input, frontend, out_dir / f".{name}.src.onnx")
        executable, tuning = tvm_compile.build(mod, tgt, trials, progress, tuple(example_input.shape))
        form = export_form(spec, cc)
        path = out_dir / f"{name}.{form}"
        contents = tvm_compile.export(executable, path, form, cc)
        return Artifact(path, self.name, f"tvm ({tuning_label(trials)})", precision, tuple(example_input.shape),
                        extra={"target": spec, "target_str": str(tgt), "frontend": frontend, "export": form,
                               "contents": contents, "runs_here": runs_here(spec) and form == "so",
                               "tuning": {**tuning, "label": tuning_label(trials)}})

    def can_run(self, artifact: Artifact) -> bool:
        return bool(artifact.extra.get("runs_here"))

    def vm(self, artifact: Artifact, threads: int = 1):
        """A Relax VM over the loaded library, cached per file and thread count."""
        if not self.can_run(artifact):
            raise BackendUnavailableError(
                f"{artifact.path} was built for {artifact.extra.get('target')}, which does not run on this host; "
                f"measure it on the device with MeasureSettings(options={{'rpc_host': …, 'rpc_port': …}})")
        tvm = self.import_runtime("tvm")
        from tvm import relax

        # the thread pool is process-wide, so set it on every call, not only when the VM is made
        tvm.get_global_func("runtime.config_threadpool")(1, threads)
        return self.cached(artifact, threads,
                           lambda: relax.VirtualMachine(tvm.runtime.load_module(str(artifact.path)), tvm.cpu()))

    def run(self, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
        import tvm

        out = self.vm(artifact)["main"](tvm.runtime.tensor(inputs.astype(np.float32)))
        out = out[0] if not hasattr(out, "numpy") else out   # the torch frontend returns a tuple
        return out.numpy()

    def measure(self, artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
        """Remote when settings.options has rpc_host or rpc_tracker, else on this host."""
        if settings.options.get("rpc_host") or settings.options.get("rpc_tracker"):
            return measure_remote(artifact, settings, self.runtime_version())
        import tvm

        vm = self.vm(artifact, settings.threads)
        vm_main = vm["main"]
        x = tvm.runtime.tensor(np.random.default_rng(0).standard_normal(artifact.input_shape).astype(np.float32))
        return time_callable(lambda: vm_main(x), settings, "tvm-llvm", self.runtime_version())

    def validate_artifact(self, artifact: Artifact) -> dict[str, Any]:
        """For libraries that cannot run here: the file exists and holds code for the target."""
        contents = artifact.extra.get("contents", [])
        want = ".c" if artifact.extra.get("target", {}).get("kind") == "c" else (".o", ".so")
        ok = Path(artifact.path).is_file() and any(c.endswith(want) for c in contents)
        if not ok:
            raise BackendUnavailableError(f"{artifact.path} holds {contents}, expected {want} files for "
                                          f"{artifact.extra.get('target')}; re-export it")
        return {"export": artifact.extra["export"], "target": json.dumps(artifact.extra.get("target")),
                "contents": ",".join(contents)}

    def embed_card(self, artifact: Artifact, card: dict[str, Any]) -> bool:
        """Tar exports carry the card as a member; shared libraries keep it in the sidecar only."""
        if artifact.extra.get("export") != "tar":
            return False
        data = json.dumps(card, indent=2).encode()
        with atomic_path(artifact.path) as tmp:
            with tarfile.open(artifact.path) as src, tarfile.open(tmp, "w") as dst:
                for member in src.getmembers():
                    if member.name != CARD_MEMBER:
                        dst.addfile(member, src.extractfile(member))
                info = tarfile.TarInfo(CARD_MEMBER)
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))
        return True

    def read_card(self, path: str | Path) -> dict[str, Any]:
        """The card inside a tar export, else the sidecar's."""
        path = Path(path)
        if path.suffix == ".tar":
            with tarfile.open(path) as t:
                if CARD_MEMBER in t.getnames():
                    return json.loads(t.extractfile(CARD_MEMBER).read())
        return Artifact.load(path).card


backend = TVMBackend()
