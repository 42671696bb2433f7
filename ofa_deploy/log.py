"""One log line per step, as the best exporters print them:

    ONNX: export success ✅ 0.9s, saved as 'out/model.onnx' (3.3 MB)
    OpenVINO: export failure ❌ 1.2s: <reason>
"""
from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .fileio import file_size_mb

class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is now (redirected, captured), not what it was at import."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


LOGGER = logging.getLogger("ofa_deploy")
if not LOGGER.handlers:  # our own handler: converters that call logging.basicConfig must not mute us
    _h = _StdoutHandler()
    _h.setFormatter(logging.Formatter("%(message)s"))
    LOGGER.addHandler(_h)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
PRETTY = {"onnxruntime": "ONNX", "openvino": "OpenVINO", "tflite": "TFLite", "coreml": "CoreML", "tvm": "TVM",
          "accel": "Accel"}


def _emit(line: str) -> None:
    LOGGER.info(line)


class StepResult:
    """Filled in by the step's body: the saved path and/or a short detail for the line."""

    def __init__(self):
        self.path: Path | None = None
        self.size_mb: float | None = None
        self.detail = ""


@contextmanager
def step(backend: str, action: str) -> Iterator[StepResult]:
    """Time a step and log one ✅/❌ line; exceptions are logged and re-raised."""
    prefix = PRETTY.get(backend, backend)
    res, t0 = StepResult(), time.perf_counter()
    try:
        yield res
    except Exception as exc:
        _emit(f"{prefix}: {action} failure ❌ {time.perf_counter() - t0:.1f}s: {exc}")
        raise
    msg = f"{prefix}: {action} success ✅ {time.perf_counter() - t0:.1f}s"
    if res.path is not None:
        size = res.size_mb if res.size_mb is not None else file_size_mb(res.path)
        msg += f", saved as '{res.path}' ({size:.1f} MB)"
    if res.detail:
        msg += f", {res.detail}"
    _emit(msg)
