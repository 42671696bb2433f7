"""ONNX Runtime backend: single-file ONNX export (fp32/fp16/int8), run and measure on the CPU
execution provider."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.deploy.card import CARD_KEY
from ofa_deploy.deploy.plugin import BackendBase
from ofa_deploy.deploy.timing import time_callable


class OnnxRuntimeBackend(BackendBase):
    name = "onnxruntime"
    formats = ("onnx",)
    precisions = ("fp32", "fp16", "int8")
    extra = "onnx"
    modules = ("onnx", "onnxruntime")
    packages = ("onnxruntime", "onnx")

    def export(self, model, example_input, out_dir: Path, precision: str = "fp32", format: str | None = None,
               calibration=None, name: str = "model", dynamo: bool = False, **options) -> Artifact:
        from ofa_deploy.deploy.onnx_export import to_onnx

        from .quantize import to_fp16, to_int8

        out_dir = Path(out_dir)
        path = out_dir / f"{name}.onnx"
        if precision == "fp32":
            to_onnx(model, example_input, path, dynamo)
        else:
            base = to_onnx(model, example_input, out_dir / f"{name}.fp32-src.onnx", dynamo)
            try:
                to_fp16(base, path) if precision == "fp16" else to_int8(base, path, calibration)
            finally:
                base.unlink(missing_ok=True)
        return Artifact(path, self.name, "onnx", precision, tuple(example_input.shape))

    def session(self, artifact: Artifact, threads: int = 1):
        return self.cached(artifact, threads, lambda: self._new_session(artifact, threads))

    def _new_session(self, artifact: Artifact, threads: int):
        ort = self.import_runtime("onnxruntime")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        return ort.InferenceSession(str(artifact.path), opts, providers=["CPUExecutionProvider"])

    def run(self, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
        return self.session(artifact).run(None, {artifact.input_name: inputs.astype(np.float32)})[0]

    def measure(self, artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
        sess = self.session(artifact, settings.threads)
        x = {artifact.input_name: np.random.default_rng(0).standard_normal(artifact.input_shape).astype(np.float32)}
        return time_callable(lambda: sess.run(None, x), settings, "onnxruntime-cpu", self.runtime_version())

    def embed_card(self, artifact: Artifact, card: dict[str, Any]) -> bool:
        import onnx

        from ofa_deploy.fileio import atomic_path

        model = onnx.load(str(artifact.path))
        del model.metadata_props[:]
        entry = model.metadata_props.add()
        entry.key, entry.value = CARD_KEY, json.dumps(card)
        with atomic_path(artifact.path) as tmp:
            onnx.save(model, str(tmp))
        return True

    def read_card(self, path: str | Path) -> dict[str, Any]:
        """The model card embedded in an .onnx file's metadata."""
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        return json.loads(props[CARD_KEY]) if CARD_KEY in props else {}


backend = OnnxRuntimeBackend()
