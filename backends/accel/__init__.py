"""Accelerator cost-model backend ("accel"): export writes the layer list of a torch module as
JSON; measure evaluates a systolic-array roofline model on it (see `model.py`). Every figure it
returns is an ESTIMATE: LatencyStats.runtime is 'accel-model' and settings carry
{"estimate": true, "model": ...}. Works on whole subnets and on single ops (latency tables)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.deploy.plugin import BackendBase
from ofa_deploy.errors import BackendUnavailableError, ValidationError
from ofa_deploy.fileio import atomic_write_json
from ofa_deploy.plugins.shared import trace_layers

from .model import ACCELERATORS, MODEL_VERSION, AccelConfig, estimate, get_accelerator

__all__ = ["ACCELERATORS", "AccelConfig", "AccelBackend", "backend", "estimate", "get_accelerator",
           "list_accelerators"]

KINDS = ("conv", "dwconv", "linear", "pool", "eltwise", "fused")


def list_accelerators() -> list[AccelConfig]:
    """The named accelerator configurations, with the sources of their figures."""
    return list(ACCELERATORS.values())


class AccelBackend(BackendBase):
    name = "accel"
    formats = ("accel",)
    calibrated = ()                          # an estimate: no calibration data needed
    precisions = ("fp32", "fp16", "int8")   # the layer list is precision-free; the config sets element width
    extra = "accel"
    measures = "estimate"                    # a latency model: never in benchmark's default, marked estimated
    modules = ()
    packages = ("torch",)

    @property
    def install(self) -> str:
        return "pip install ofa-deploy"   # the model needs only torch

    def export(self, model, example_input, out_dir: Path, precision: str = "fp32", format: str | None = None,
               calibration=None, name: str = "model", accel=None, **options) -> Artifact:
        """Trace the module on the example input and write its layer list; `accel` (a name or
        config) becomes the artifact's default accelerator."""
        layers = trace_layers(model, example_input)
        path = atomic_write_json(Path(out_dir) / f"{name}.accel.json",
                                 {"input_shape": list(example_input.shape), "layers": layers})
        cfg = get_accelerator(accel)
        return Artifact(path, self.name, "accel", precision, tuple(example_input.shape),
                        extra={"accel": cfg.to_dict(), "n_layers": len(layers)})

    def can_run(self, artifact: Artifact) -> bool:
        return False

    def run(self, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
        raise BackendUnavailableError("the accel backend is a latency model and computes no outputs; validate "
                                      "accuracy with another backend (onnxruntime) and use accel for estimates")

    def layers(self, artifact: Artifact) -> list[dict[str, Any]]:
        """The layer list stored in the artifact."""
        return json.loads(Path(artifact.path).read_text())["layers"]

    def estimate(self, artifact: Artifact, accel=None) -> dict[str, Any]:
        """The full per-layer estimate for `accel` (default: the one chosen at export, else eyeriss)."""
        return estimate(self.layers(artifact), get_accelerator(accel or artifact.extra.get("accel")))

    def measure(self, artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
        """One deterministic estimate (count 1); options: accel (name, dict or JSON)."""
        est = self.estimate(artifact, settings.options.get("accel"))
        cfg = est["accelerator"]
        info = {**settings.to_dict(), "estimate": True, "model": est["model"], "accelerator": cfg,
                "cycles": est["cycles"], "dram_bytes": est["dram_bytes"],
                "memory_bound_layers": est["memory_bound_layers"]}
        return LatencyStats.from_samples([est["latency_ms"]], info, "accel-model", MODEL_VERSION,
                                         f"{cfg['name']} (estimate)")

    def validate_artifact(self, artifact: Artifact) -> dict[str, Any]:
        """The layer list is non-empty, of known kinds, with MACs where convs/linears are."""
        layers = self.layers(artifact)
        bad = [layer["name"] for layer in layers if layer["kind"] not in KINDS
               or (layer["kind"] in ("conv", "dwconv", "linear") and layer["macs"] <= 0)]
        if not layers or bad:
            raise ValidationError(f"accel layer list {artifact.path} is empty or has malformed layers {bad[:5]}; "
                                  f"re-export the module")
        return {"layers": len(layers), "macs": sum(layer["macs"] for layer in layers),
                "weights": sum(layer["weight_elems"] for layer in layers), "estimate": True}


backend = AccelBackend()
