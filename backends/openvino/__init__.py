"""OpenVINO backend: IR (.xml + .bin) in fp32, fp16 (compressed weights) or int8 (NNCF
post-training quantization), compiled for the CPU with an explicit precision hint — this CPU
would otherwise pick bf16 and break fp32 parity."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.deploy.card import CARD_KEY
from ofa_deploy.deploy.plugin import BackendBase, calibration_arrays
from ofa_deploy.deploy.timing import time_callable


def telemetry_off() -> None:
    """`import openvino` (and its converter, and NNCF) send usage telemetry when no consent file
    exists — a fresh machine — and create ~/intel; off-line their sender thread, forked from a
    thread, also deadlocked our numpy timing. ofa_deploy never sends data on a user's behalf nor
    writes their home: before openvino first loads, mark its optional telemetry package absent
    (None in sys.modules), so OpenVINO and NNCF take their own no-telemetry stubs."""
    import sys

    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)


class OpenVinoBackend(BackendBase):
    name = "openvino"
    formats = ("openvino", "ir")
    precisions = ("fp32", "fp16", "int8")
    extra = "openvino"
    modules = ("openvino",)
    packages = ("openvino", "nncf")

    def import_runtime(self, module: str):
        telemetry_off()
        return super().import_runtime(module)

    def export(self, model, example_input, out_dir: Path, precision: str = "fp32", format: str | None = None,
               calibration=None, name: str = "model", **options) -> Artifact:
        from ofa_deploy.deploy.onnx_export import to_onnx

        ov = self.import_runtime("openvino")
        onnx_path = to_onnx(model, example_input, Path(out_dir) / f".{name}.src.onnx")
        try:  # via ONNX: much faster than converting the torch module (latency tables export hundreds of ops)
            ov_model = ov.convert_model(str(onnx_path))
        finally:
            onnx_path.unlink(missing_ok=True)
        if precision == "int8":
            import nncf

            arrays = calibration_arrays(calibration)
            ov_model = nncf.quantize(ov_model, nncf.Dataset(arrays), subset_size=len(arrays))
        path = Path(out_dir) / f"{name}.xml"
        _save_ir(ov, ov_model, path, compress=precision == "fp16")
        return Artifact(path, self.name, "openvino", precision, tuple(example_input.shape),
                        extra={"companions": [str(path.with_suffix(".bin"))]})

    def compiled(self, artifact: Artifact, threads: int = 1):
        return self.cached(artifact, threads, lambda: self._compile(artifact, threads))

    def _compile(self, artifact: Artifact, threads: int):
        ov = self.import_runtime("openvino")
        core = ov.Core()
        hint = "f32" if artifact.precision in ("fp32", "int8") else "f16"
        config = {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads,
                  "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
        return core.compile_model(core.read_model(str(artifact.path)), "CPU", config)

    def run(self, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
        compiled = self.compiled(artifact)
        return np.asarray(compiled(inputs.astype(np.float32))[compiled.outputs[0]])

    def measure(self, artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
        compiled = self.compiled(artifact, settings.threads)
        request = compiled.create_infer_request()
        x = np.random.default_rng(0).standard_normal(artifact.input_shape).astype(np.float32)
        return time_callable(lambda: request.infer({0: x}), settings, "openvino-cpu", self.runtime_version())

    def embed_card(self, artifact: Artifact, card: dict[str, Any]) -> bool:
        ov = self.import_runtime("openvino")
        model = ov.Core().read_model(str(artifact.path))
        model.set_rt_info(json.dumps(card), [CARD_KEY])
        _save_ir(ov, model, Path(artifact.path), compress=False)
        return True

    def read_card(self, path: str | Path) -> dict[str, Any]:
        """The model card stored in an IR's rt_info."""
        ov = self.import_runtime("openvino")
        model = ov.Core().read_model(str(path))
        return json.loads(model.get_rt_info([CARD_KEY]).astype(str)) if model.has_rt_info([CARD_KEY]) else {}


def _save_ir(ov, model, path: Path, compress: bool) -> None:
    """Save .xml + .bin so that neither is ever seen half-written: save beside, then rename both."""
    tmp = path.with_name(f".{path.stem}.tmp.xml")
    ov.save_model(model, str(tmp), compress_to_fp16=compress)
    tmp.with_suffix(".bin").replace(path.with_suffix(".bin"))
    tmp.replace(path)


backend = OpenVinoBackend()
