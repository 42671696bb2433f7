"""BackendBase: the defaults every backend plugin shares, so a plugin only writes what is
specific to its runtime (export, run, measure)."""
from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, BadArgumentError
from .base import Artifact, LatencyStats, MeasureSettings
from .inputs import checked_run


STANDARD_EXPORT_ARGS = ("self", "model", "example_input", "out_dir", "precision", "format", "calibration", "name")


class BackendBase:
    """Subclass and set `name`, `formats`, `precisions`, `extra` (the pip extra that installs the
    runtime), `modules` (what must import) and `packages` (whose versions go into model cards)."""

    name: str = ""
    formats: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ("fp32",)
    extra: str = ""
    modules: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    # export keyword options the plugin takes through **options (its named export parameters count
    # too); anything else is refused with this list, never silently ignored
    options: tuple[str, ...] = ()
    # precisions whose export needs calibration data (checked before any work starts)
    calibrated: tuple[str, ...] = ("int8",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "run" in cls.__dict__ and not getattr(cls.__dict__["run"], "checked", False):
            cls.run = checked_run(cls.__dict__["run"])   # inputs checked once here, for every plugin

    def export_options(self) -> tuple[str, ...]:
        """Every export option this plugin accepts: `options` plus the named parameters of export()."""
        import inspect

        sig = inspect.signature(self.export)
        named = [p.name for p in sig.parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in STANDARD_EXPORT_ARGS]
        return tuple(sorted(set(named) | set(self.options)))

    def check_options(self, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - set(self.export_options()))
        if unknown:
            accepted = ", ".join(self.export_options()) or "none"
            raise BadArgumentError(f"the {self.name} backend does not take export option(s) {unknown}; it "
                                   f"accepts: {accepted}", unknown[0])

    @property
    def install(self) -> str:
        return f"pip install 'ofa-deploy[{self.extra or self.name}]'"

    def import_runtime(self, module: str):
        """Import a runtime module, or raise BackendUnavailableError with the install command."""
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            raise BackendUnavailableError(f"the {self.name} backend needs {module!r}, which is not installed "
                                          f"({exc}); install it with: {self.install}") from None

    def check(self) -> None:
        """Fail with the install command if a runtime module is missing. Looks the modules up
        without importing them, so listing backends stays cheap and runtime-free."""
        import importlib.util

        for m in self.modules:
            if importlib.util.find_spec(m.split(".")[0]) is None:
                raise BackendUnavailableError(f"the {self.name} backend needs {m!r}, which is not installed; "
                                              f"install it with: {self.install}")

    def versions(self) -> dict[str, str]:
        out = {}
        for p in self.packages:
            try:
                out[p] = metadata.version(p)
            except metadata.PackageNotFoundError:
                out[p] = "not installed"
        return out

    def runtime_version(self) -> str:
        v = self.versions()
        return v.get(self.packages[0], "") if self.packages else ""

    def check_precision(self, precision: str) -> None:
        if precision not in self.precisions:
            raise BadArgumentError(f"the {self.name} backend exports {list(self.precisions)}, not {precision!r}")

    def cached(self, artifact: Artifact, threads: int, factory):
        """A loaded model (session, compiled model, interpreter) for this file, reused until the
        file changes: validation runs several inputs and latency tables time hundreds of ops."""
        cache = self.__dict__.setdefault("_loaded", {})
        path = Path(artifact.path)
        key = (str(path), path.stat().st_mtime_ns, threads)
        if key not in cache:
            if len(cache) > 8:
                cache.clear()
            cache[key] = factory()
        return cache[key]

    # Optional batched export: how many modules `export_batch` puts into one file (0: no batched
    # path). The latency-table builder converts that many ops at once and still times each alone.
    batch_export: int = 0

    def export_batch(self, items, out_dir: Path, name: str = "batch") -> list[Artifact]:
        """Convert several (model, example_input) pairs into one file, one method/signature each;
        return one Artifact per pair that `run` and `measure` treat as a model of its own."""
        raise NotImplementedError(f"the {self.name} backend has no batched export")

    def can_run(self, artifact: Artifact) -> bool:
        return True

    def embed_card(self, artifact: Artifact, card: dict[str, Any]) -> bool:
        return False

    def validate_artifact(self, artifact: Artifact) -> dict[str, Any]:
        return {"file_exists": Path(artifact.path).exists()}

    def run(self, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"the {self.name} backend cannot run artifacts on this host")

    def measure(self, artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
        raise NotImplementedError(f"the {self.name} backend cannot measure on this host")


def calibration_arrays(calibration, limit: int = 64) -> list[np.ndarray]:
    """Calibration batches (tensors, arrays, or (images, labels) pairs) as float32 NCHW arrays."""
    if calibration is None:
        raise BadArgumentError("int8 export needs calibration data: pass calibration=<iterable of input batches> "
                         "(a few hundred real images, e.g. from your validation set)")
    out = []
    for batch in calibration:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        out.extend(np.split(x.astype(np.float32), len(x)))   # one image per batch: static batch-1 graphs
        if len(out) >= limit:
            break
    if not out:
        raise BadArgumentError("calibration data is empty; pass at least one batch of inputs")
    return out[:limit]
