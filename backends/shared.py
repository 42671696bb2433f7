"""Helpers the plugins share: reading a JSON option given as a dict, a JSON string or a file (TVM
targets, accelerator configs); the layer trace of a torch module (the accel model's input, and the
op counts Core ML spec checks compare against); and the local-or-adb measuring path of the tflite
and ExecuTorch plugins (dispatch, then connect, per-serial lock and push by checksum)."""
from __future__ import annotations

import json
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ofa_deploy.errors import OfaDeployError


class OptionError(OfaDeployError, ValueError):
    """A backend option (target dict, accelerator config) that is malformed."""


def json_option(value: Any, what: str) -> dict[str, Any]:
    """A dict from a dict, a JSON object string or the path of a .json file."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (str, Path)):
        text = str(value).strip()
        if not text.startswith("{") and Path(text).is_file():
            text = Path(text).read_text()
        try:
            out = json.loads(text)
        except json.JSONDecodeError as exc:
            raise OptionError(f"{what} {str(value)[:80]!r} is neither a JSON object nor a .json file ({exc.msg}); "
                              f"pass a dict such as {{\"kind\": \"llvm\"}}") from None
        if isinstance(out, dict):
            return out
    raise OptionError(f"{what} must be a dict, a JSON object string or a .json file path, not {type(value).__name__}")


# aten ops → layer kinds. Activations and batch norm are folded into the preceding conv/linear on
# every accelerator and compiler we target, so they are recorded as 'fused' (no own cost).
_KIND = {
    "convolution": "conv", "addmm": "linear", "mm": "linear",
    "mean": "pool", "avg_pool2d": "pool", "adaptive_avg_pool2d": "pool", "max_pool2d_with_indices": "pool",
    "add": "eltwise", "mul": "eltwise", "sub": "eltwise",
    "relu": "fused", "hardtanh": "fused", "hardswish": "fused", "hardsigmoid": "fused", "sigmoid": "fused",
    "tanh": "fused", "_native_batch_norm_legit_no_training": "fused", "batch_norm": "fused",
}


def _shape(t) -> list[int]:
    import torch

    return list(t.shape) if isinstance(t, torch.Tensor) else []


def _layer(op: str, args, out) -> dict[str, Any] | None:
    kind = _KIND.get(op)
    if kind is None:
        return None
    import torch

    outs = out if isinstance(out, (tuple, list)) else (out,)
    rec: dict[str, Any] = {"op": op, "kind": kind, "out": _shape(outs[0])}
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if kind == "conv":
        x, w = args[0], args[1]
        groups = int(args[8])
        rec.update(kind="dwconv" if groups > 1 and groups == x.shape[1] else "conv", input=_shape(x),
                   weight=_shape(w), stride=list(args[3]), groups=groups)
        rec["macs"] = int(outs[0].numel() * w.shape[1] * w.shape[2] * w.shape[3])
        rec["weight_elems"] = int(w.numel())
    elif kind == "linear":
        x, w = (args[1], args[2]) if op == "addmm" else (args[0], args[1])
        rec.update(input=_shape(x), weight=_shape(w), macs=int(x.shape[0] * w.shape[0] * w.shape[1]),
                   weight_elems=int(w.numel()))
    else:
        rec.update(input=_shape(tensors[0]) if tensors else [], macs=0, weight_elems=0,
                   operands=sum(1 for t in tensors if t.numel() > 1))
    if kind == "eltwise" and rec["operands"] < 2:
        rec["kind"] = "fused"   # scaling by a constant folds into the neighbour
    return rec


def _recorder():
    """A dispatch mode that records every aten op with its shapes, tagged with the innermost module
    that ran it (made on first use: listing backends must not import torch)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Recorder(TorchDispatchMode):
        """Records every aten op with its shapes, tagged with the innermost module that ran it."""

        def __init__(self):
            super().__init__()
            self.stack: list[str] = []
            self.layers: list[dict[str, Any]] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            rec = _layer(func.overloadpacket.__name__, args, out)
            if rec is not None:
                rec["module"] = self.stack[-1] if self.stack else ""
                self.layers.append(rec)
            return out

    return Recorder()


def trace_layers(model, example) -> list[dict[str, Any]]:
    """The layers a forward pass of `model` runs (conv, dwconv, linear, pool, eltwise, fused), in
    order, with input/output shapes, MACs and weight counts. Captured at the aten level, so
    functional ops (residual adds, SE scaling, means) are seen as well as modules."""
    import torch

    rec = _recorder()
    hooks = []

    def enter(name):
        return lambda _m, _i: rec.stack.append(name)   # None: the input is left as it was

    def leave(_m, _i, _o):
        rec.stack.pop()   # returns None so the output is left as it was

    for name, m in model.named_modules():
        hooks += [m.register_forward_pre_hook(enter(name)), m.register_forward_hook(leave)]
    try:
        with torch.no_grad(), rec:
            model.eval()(example)
    finally:
        for h in hooks:
            h.remove()
    for i, layer in enumerate(rec.layers):
        layer["name"] = f"{i:03d}_{layer['kind']}" + (f"@{layer['module']}" if layer["module"] else "")
    return rec.layers


def layer_counts(layers: list[dict[str, Any]]) -> Counter:
    """How many layers of each kind (conv counts dwconv too, as converters name both 'conv')."""
    c = Counter(layer["kind"] for layer in layers)
    c["conv"] += c["dwconv"]
    return c


def on_adb(settings) -> bool:
    """True when MeasureSettings name an adb device (`options['serial']`, or `options['adb']=True`
    for the only attached one) rather than this host."""
    return bool(settings.options.get("serial") or settings.options.get("adb"))


def measure_local_or_adb(artifact, settings, loaded: Callable[[Any, int], Any], runtime: str, version: str,
                         device_module: str):
    """The tflite and ExecuTorch plugins' `measure`: on the adb device the settings name, through
    `device_module`'s measure_on_device (imported only then); else here, timing the loaded model
    (`loaded(artifact, threads).timed_call()`) by the core's timing loop."""
    if on_adb(settings):
        import importlib

        return importlib.import_module(device_module).measure_on_device(artifact, settings)
    from ofa_deploy.deploy.timing import time_callable

    return time_callable(loaded(artifact, settings.threads).timed_call(), settings, runtime, version)


@contextmanager
def adb_session(artifact, settings) -> Iterator[tuple[Any, Any, str]]:
    """Connect to the adb device the settings name, hold its per-serial lock (calls for one serial
    run one at a time; different serials in parallel) and push the artifact unless a file with its
    sha256 is already there; yields (client, DeviceInfo, remote path)."""
    from ofa_deploy.plugins.tflite.adb import AdbClient
    from ofa_deploy.plugins.tflite.device import _locks, ensure_model

    client = AdbClient.shared(settings.options.get("adb_server_port"))
    info = client.connect(settings.options.get("serial"))
    with _locks[info.serial]:
        yield client, info, ensure_model(client, info.serial, Path(artifact.path))
