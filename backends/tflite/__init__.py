"""TFLite backend: .tflite export through litert-torch (fp32) and ai-edge-quantizer (fp16
weights, full-integer int8), run and measure on this host with ai-edge-litert (XNNPACK), or on
an Android device over adb with benchmark_model (`MeasureSettings.options['serial']`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.deploy.plugin import BackendBase, calibration_arrays
from ofa_deploy.log import native_quiet


class TFLiteBackend(BackendBase):
    """The `tflite` plugin: see the module docstring."""

    name = "tflite"
    formats = ("tflite",)
    precisions = ("fp32", "fp16", "int8")
    extra = "tflite"
    modules = ("ai_edge_litert", "litert_torch")
    packages = ("ai-edge-litert", "litert-torch", "ai-edge-quantizer")

    def export(self, model, example_input, out_dir: Path, precision: str = "fp32", format: str | None = None,
               calibration=None, name: str = "model", **options) -> Artifact:
        from .exporter import to_tflite
        from .quantize import to_fp16, to_int8

        self.check_precision(precision)
        out_dir = Path(out_dir)
        path = out_dir / f"{name}.tflite"
        if precision == "int8":
            calibration = calibration_arrays(calibration)   # fail on missing data before a slow conversion
        with native_quiet():   # absl / oneDNN / torchao lines from C, unless --verbose
            if precision == "fp32":
                to_tflite(model, example_input, path)
            else:
                src = to_tflite(model, example_input, out_dir / f".{name}.fp32-src.tflite")
                try:
                    to_fp16(src, path) if precision == "fp16" else to_int8(src, path, calibration)
                finally:
                    src.unlink(missing_ok=True)
        return Artifact(path, self.name, "tflite", precision, tuple(example_input.shape),
                        extra={"layout": "NCHW", "quantization": _QUANT[precision]})

    batch_export = 24   # fp32 ops per multi-signature .tflite (latency-table builds)

    def export_batch(self, items, out_dir: Path, name: str = "batch") -> list[Artifact]:
        """fp32 (model, example_input) pairs → one .tflite, one signature each (see BackendBase)."""
        from .exporter import to_tflite_signatures

        path = Path(out_dir) / f"{name}.tflite"
        with native_quiet():
            names = to_tflite_signatures(items, path)
        return [Artifact(path, self.name, "tflite", "fp32", tuple(x.shape),
                         extra={"layout": "NCHW", "quantization": _QUANT["fp32"], "signature": n})
                for n, (_, x) in zip(names, items)]

    def local_model(self, artifact: Artifact, threads: int = 1):
        """The cached interpreter for this artifact (its signature, for a batched file) and thread count."""
        from .measurer import LocalModel, open_interpreter

        sig = artifact.extra.get("signature")

        def load():
            with native_quiet():   # "INFO: Created TensorFlow Lite XNNPACK delegate" is written from C
                shared = sig and self.cached(artifact, ("file", threads), lambda: open_interpreter(artifact.path, threads))
                return LocalModel(artifact.path, threads, sig, shared or None)

        return self.cached(artifact, (threads, sig) if sig else threads, load)

    def run(self, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
        return self.local_model(artifact)(np.asarray(inputs, dtype=np.float32))

    def measure(self, artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
        """On this host, or on the adb device named by `settings.options['serial']` (or with
        `options['adb']=True`, the only attached one)."""
        from ofa_deploy.plugins.shared import measure_local_or_adb

        return measure_local_or_adb(artifact, settings, self.local_model, "tflite-xnnpack", self.runtime_version(),
                                    f"{__name__}.device")

    def embed_card(self, artifact: Artifact, card: dict[str, Any]) -> bool:
        from .metadata import write_card

        write_card(Path(artifact.path), card)
        return True

    def read_card(self, path: str | Path) -> dict[str, Any]:
        """The model card embedded in a .tflite's metadata."""
        from .metadata import read_card

        return read_card(path)

    def validate_artifact(self, artifact: Artifact) -> dict[str, Any]:
        model = self.local_model(artifact)
        return {"file_exists": True, "input_shape": [int(d) for d in model.input["shape"]],
                "output_shape": [int(d) for d in model.output["shape"]]}

    def connect(self, serial: str | None = None, **options):
        """Check that an adb device is reachable and ready; return its DeviceInfo, or raise
        DeviceError with a message a person can act on."""
        from .adb import AdbClient

        return AdbClient.shared(options.get("adb_server_port")).connect(serial)


_QUANT = {"fp32": "none", "fp16": "fp16 weights (float casting), fp32 activations",
          "int8": "full-integer: per-channel int8 weights, int8 activations (static, calibrated)"}

backend = TFLiteBackend()
