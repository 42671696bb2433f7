"""Core ML backend: `.mlpackage` (ML program; fp32, fp16, int8 weights) and `.mlmodel` (neural
network; fp32, fp16/int8 weights) through coremltools. Conversion, saving and spec checks work on
any OS; running and timing need macOS (the Core ML framework), where they use coremltools'
predict and the core timing loop. The model card sits in the user-defined metadata."""
from __future__ import annotations

import json
import platform
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.deploy.card import CARD_KEY
from ofa_deploy.deploy.plugin import BackendBase
from ofa_deploy.deploy.timing import time_callable
from ofa_deploy.errors import BackendUnavailableError, BadArgumentError
from ofa_deploy.plugins.shared import layer_counts, trace_layers

from . import spec
from .convert import SUFFIX, convert, fill_output_shape, quiet, save

COMPUTE_UNITS = ("ALL", "CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE")


class CoreMLBackend(BackendBase):
    name = "coreml"
    formats = ("mlpackage", "mlmodel")
    measures = "here" if sys.platform == "darwin" else "macOS only"   # elsewhere: exported + spec-checked
    precisions = ("fp32", "fp16", "int8")
    calibrated = ()   # int8 quantizes weights only
    extra = "coreml"
    modules = ("coremltools",)
    packages = ("coremltools",)

    def export(self, model, example_input, out_dir: Path, precision: str = "fp32", format: str | None = None,
               calibration=None, name: str = "model", **options) -> Artifact:
        """Trace and convert; int8 quantizes weights only (no calibration needed)."""
        ct = self.import_runtime("coremltools")
        fmt = format if format in self.formats else "mlpackage"
        layers = trace_layers(model, example_input)
        with quiet():
            mlmodel = convert(ct, model, example_input, fmt, precision)
            out_shape = layers[-1]["out"] if layers else []
            fill_output_shape(mlmodel, tuple(out_shape))
            path = save(mlmodel, Path(out_dir) / f"{name}{SUFFIX[fmt]}")
        counts = layer_counts(layers)
        return Artifact(path, self.name, fmt, precision, tuple(example_input.shape),
                        extra={"output_shape": out_shape, "torch_layers": {"conv": counts["conv"],
                                                                           "linear": counts["linear"]}})

    def can_run(self, artifact: Artifact) -> bool:
        """Only on macOS with coremltools' native runtime (libcoremlpython)."""
        if sys.platform != "darwin":
            return False
        try:
            import coremltools.libcoremlpython  # noqa: F401
        except ImportError:
            return False
        return True

    def _require_macos(self, what: str) -> None:
        if not self.can_run(None):
            raise BackendUnavailableError(
                f"Core ML {what} needs macOS with the Core ML framework; this host is {platform.system()} — "
                f"export here, then run `ofa-deploy benchmark` (or backend.measure) on a Mac with "
                f"{self.install}; on this host use validate_artifact() for a spec check")

    def loaded(self, artifact: Artifact, compute_units: str = "ALL"):
        """The MLModel compiled by Core ML for `compute_units`, cached per file."""
        self._require_macos("prediction")
        ct = self.import_runtime("coremltools")
        if compute_units not in COMPUTE_UNITS:
            raise BadArgumentError(f"compute_units must be one of {COMPUTE_UNITS}, not {compute_units!r}")
        return self.cached(artifact, compute_units,   # Core ML has no thread setting; key on compute units
                           lambda: ct.models.MLModel(str(artifact.path), compute_units=ct.ComputeUnit[compute_units]))

    def run(self, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
        """Predict one image at a time (the model has a static batch of 1); macOS only."""
        model = self.loaded(artifact)
        x = inputs.astype(np.float32)
        outs = [model.predict({artifact.input_name: x[i:i + 1]})[artifact.output_name] for i in range(len(x))]
        return np.concatenate([np.asarray(o).reshape(1, -1) for o in outs])

    def measure(self, artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
        """Time predict with the core loop; options: compute_units (ALL, CPU_ONLY, CPU_AND_GPU,
        CPU_AND_NE). Core ML picks its own threads, so settings.threads is recorded only."""
        self._require_macos("measurement")
        units = settings.options.get("compute_units", "ALL")
        model = self.loaded(artifact, units)
        x = {artifact.input_name: np.random.default_rng(0).standard_normal(artifact.input_shape).astype(np.float32)}
        return time_callable(lambda: model.predict(x), settings.with_options(compute_units=units),
                             f"coreml-{units.lower()}", self.runtime_version())

    def validate_artifact(self, artifact: Artifact) -> dict[str, Any]:
        """Load the saved spec and check inputs, outputs, shapes and conv/linear counts against the
        torch module; raises ValidationError on a mismatch, returns the facts checked."""
        info = spec.describe(artifact.path)
        out_shape = artifact.extra.get("output_shape") or [0]
        expected = artifact.extra.get("torch_layers")
        spec.check(info, artifact.input_shape, out_shape[-1], Counter(expected) if expected else None)
        return {"type": info["type"], "spec_version": info["spec_version"], "input": info["inputs"][0]["shape"],
                "output": info["outputs"][0]["shape"], "ops": info["n_ops"], "conv": info["conv"],
                "linear": info["linear"]}

    def embed_card(self, artifact: Artifact, card: dict[str, Any]) -> bool:
        ct = self.import_runtime("coremltools")
        with quiet():
            model = ct.models.MLModel(str(artifact.path), skip_model_load=True)
            model.user_defined_metadata[CARD_KEY] = json.dumps(card)
            save(model, Path(artifact.path))
        return True

    def read_card(self, path: str | Path) -> dict[str, Any]:
        """The model card embedded in a .mlmodel/.mlpackage's user-defined metadata."""
        return spec.read_card(path)


backend = CoreMLBackend()
