"""ExecuTorch backend: .pte export (XNNPACK-delegated; fp32, fp16, int8 through pt2e with the
XNNPACK quantizer), run and measure on this host with executorch.runtime, or on an Android device
over adb with executor_runner (`MeasureSettings.options['serial']`). The delegated share of the
graph goes into the artifact's `extra` (and so its sidecar)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.deploy.plugin import BackendBase, calibration_arrays
from ofa_deploy.log import LOGGER, native_quiet

log = LOGGER.getChild("executorch")


class ExecuTorchBackend(BackendBase):
    """The `executorch` plugin: see the module docstring."""

    name = "executorch"
    formats = ("pte",)
    precisions = ("fp32", "fp16", "int8")
    extra = "executorch"
    modules = ("executorch", "torchao")
    packages = ("executorch", "torchao")

    def export(self, model, example_input, out_dir: Path, precision: str = "fp32", format: str | None = None,
               calibration=None, name: str = "model", **options) -> Artifact:
        self.check_precision(precision)
        self.import_runtime("executorch.exir")
        from .exporter import to_pte

        path = Path(out_dir) / f"{name}.pte"
        calib = calibration_arrays(calibration) if precision == "int8" else None
        with native_quiet():   # torch.export / cpuinfo lines from C, unless --verbose
            share = to_pte(model, example_input, path, precision, calib)
        log.info("executorch: %d of %d ops delegated to XNNPACK (%.0f%%)%s", share["delegated_ops"],
                 share["total_ops"], 100 * share["delegated_share"],
                 f"; left to portable kernels: {', '.join(share['not_delegated'])}" if share["not_delegated"] else "")
        return Artifact(path, self.name, "pte", precision, tuple(example_input.shape),
                        extra={"delegation": share, "quantization": _QUANT[precision],
                               "card_embedded": "no: a .pte has no free-form metadata; the card is the sidecar"})

    batch_export = 24   # fp32 ops per multi-method .pte (latency-table builds)

    def export_batch(self, items, out_dir: Path, name: str = "batch") -> list[Artifact]:
        """fp32 (model, example_input) pairs → one .pte, one method each (see BackendBase)."""
        self.import_runtime("executorch.exir")
        from .exporter import to_pte_methods

        path = Path(out_dir) / f"{name}.pte"
        with native_quiet():
            methods = to_pte_methods(items, path)
        return [Artifact(path, self.name, "pte", "fp32", tuple(x.shape),
                         extra={"delegation": share, "quantization": _QUANT["fp32"], "method": m})
                for (m, share), (_, x) in zip(methods, items)]

    def program(self, artifact: Artifact, threads: int = 1):
        """The cached loaded method for this artifact (its method, for a batched file) and thread count."""
        self.import_runtime("executorch.runtime")
        from .runner import LocalProgram, load_program, set_threads

        with native_quiet():   # cpuinfo's / threadpool's lines from C
            set_threads(threads)
        method = artifact.extra.get("method", "forward")

        def load():
            with native_quiet():
                shared = None if method == "forward" else \
                    self.cached(artifact, "program", lambda: load_program(artifact.path))
                return LocalProgram(artifact.path, artifact.input_shape, artifact.precision == "fp16", method, shared)

        return self.cached(artifact, (threads, method), load)

    def run(self, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
        return self.program(artifact)(np.asarray(inputs, dtype=np.float32))

    def measure(self, artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
        """Here with executorch.runtime, or with executor_runner on the adb device the settings name."""
        from ofa_deploy.plugins.shared import measure_local_or_adb

        return measure_local_or_adb(artifact, settings, self.program, "executorch-xnnpack", self.runtime_version(),
                                    f"{__name__}.device")

    def validate_artifact(self, artifact: Artifact) -> dict:
        meta = self.program(artifact).method.metadata
        return {"file_exists": True, "num_inputs": int(meta.num_inputs()), "num_outputs": int(meta.num_outputs())}

    def connect(self, serial: str | None = None, **options):
        """Check that an adb device is reachable and ready (the tflite backend's adb client)."""
        from ofa_deploy.plugins.tflite.adb import AdbClient

        return AdbClient.shared(options.get("adb_server_port")).connect(serial)


_QUANT = {"fp32": "none", "fp16": "fp16 weights and activations (XNNPACK fp16 kernels)",
          "int8": "pt2e static int8: per-channel symmetric weights, calibrated int8 activations (XNNPACKQuantizer)"}

backend = ExecuTorchBackend()
