"""The library logger and one log line per step, as the best exporters print them:

    ONNX: export success ✅ 0.9s, saved as 'out/model.onnx' (3.3 MB)
    OpenVINO: export failure ❌ 1.2s: <reason>

The library only logs (a NullHandler on "ofa_deploy"); the application decides what is shown:
the CLI calls `configure()`, a script may call it too or attach its own handler. Converters
(TensorFlow/absl, oneDNN, XNNPACK, coremltools, torchao) write to file descriptor 2 from C;
`native_quiet()` silences that around a conversion unless verbose (`set_verbose(True)` or
OFA_DEPLOY_VERBOSE=1)."""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .fileio import file_size_mb

LOGGER = logging.getLogger("ofa_deploy")
LOGGER.addHandler(logging.NullHandler())
PRETTY = {"onnxruntime": "ONNX", "openvino": "OpenVINO", "tflite": "TFLite", "coreml": "CoreML", "tvm": "TVM",
          "accel": "Accel", "executorch": "ExecuTorch"}

# read by native runtimes at import: set before any of them loads (setdefault: a user's choice wins)
NATIVE_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GLOG_minloglevel": "3", "GRPC_VERBOSITY": "ERROR",
                    "ABSL_MIN_LOG_LEVEL": "3", "ONEDNN_VERBOSE": "0", "DNNL_VERBOSE": "0",
                    "TORCH_CPP_LOG_LEVEL": "ERROR"}
_verbose = os.environ.get("OFA_DEPLOY_VERBOSE", "") not in ("", "0")


def set_verbose(on: bool) -> None:
    """Let native runtimes' own log lines through (True) or keep them out of the terminal."""
    global _verbose
    _verbose = bool(on)


def is_verbose() -> bool:
    return _verbose


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is now (redirected, captured), not what it was at import."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def configure(verbose: bool = False) -> None:
    """For applications (the CLI): step lines to stdout at INFO (DEBUG with verbose), natives quiet
    unless verbose. Idempotent; our handler does not propagate, so a converter calling
    logging.basicConfig neither mutes nor doubles our lines."""
    set_verbose(verbose)
    if not verbose:
        quiet_native_env()
    if not any(isinstance(h, _StdoutHandler) for h in LOGGER.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.DEBUG if verbose else logging.INFO)
    LOGGER.propagate = False
    for name in ("absl", "tensorflow", "coremltools", "torchao", "torch._export", "torch.utils._pytree"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.ERROR)


def quiet_native_env() -> None:
    """Set the env vars native runtimes read at import (before they load; never overrides)."""
    for key, value in NATIVE_QUIET_ENV.items():
        os.environ.setdefault(key, value)


@contextmanager
def native_quiet() -> Iterator[None]:
    """Route file descriptor 2 (C libraries' logs, tqdm bars) to a scratch file for the body, unless
    verbose. What was written is logged at DEBUG, so --verbose or a debug handler still sees it;
    Python warnings are suppressed too."""
    if _verbose:
        yield
        return
    import warnings

    quiet_native_env()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(scratch.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except Exception:  # noqa: BLE001 - a closed stderr must not hide the body's own error
                pass
            os.dup2(saved, 2)
            os.close(saved)
            scratch.seek(0)
            text = scratch.read().decode("utf-8", "replace").strip()
            if text:
                LOGGER.debug("native output:\n%s", text[-20000:])


@contextmanager
def steps_muted() -> Iterator[None]:
    """Hide the step lines of work the user did not ask for by name (the scratch exports of a verify
    round); with verbose on they still show."""
    if _verbose:
        yield
        return
    before = LOGGER.level
    LOGGER.setLevel(logging.WARNING)
    try:
        yield
    finally:
        LOGGER.setLevel(before)


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
