"""Run and time a .tflite on this host with ai-edge-litert's interpreter (XNNPACK on the CPU)."""
from __future__ import annotations

import functools

import numpy as np


class LocalModel:
    """An allocated interpreter for one .tflite (or one signature of a multi-signature .tflite, as
    the batched export writes); converts NCHW float32 in and float32 out, quantizing and
    dequantizing where the model's input/output are integer (full-int8)."""

    def __init__(self, path: str, threads: int = 1, signature: str | None = None, interpreter=None):
        self.interpreter = interpreter or open_interpreter(path, threads)
        self.signature, self.subgraph = signature, 0
        if signature is None:
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
        else:
            runner = self.interpreter.get_signature_runner(signature)
            self.input = next(iter(runner.get_input_details().values()))
            self.output = next(iter(runner.get_output_details().values()))
            self.subgraph = runner._subgraph_index   # pylint: disable=protected-access
            runner(**{next(iter(runner.get_input_details())): np.zeros(self.input["shape"], self.input["dtype"])})

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits for a batch, one model-batch at a time (the graph has a static batch)."""
        b = int(self.input["shape"][0]) or 1
        return np.concatenate([self._invoke(x[i:i + b]) for i in range(0, len(x), b)])

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        invoke = self._set_input(_quantize(x.astype(np.float32), self.input))
        invoke()
        return _dequantize(self._get_output(), self.output)

    def _set_input(self, x: np.ndarray):
        """Set the input tensor; return the call that runs the graph (the signature's subgraph)."""
        if self.signature is None:
            self.interpreter.set_tensor(self.input["index"], x)
            return self.interpreter.invoke
        wrapper = self.interpreter._interpreter   # pylint: disable=protected-access
        wrapper.SetTensor(self.input["index"], x, self.subgraph)
        return functools.partial(wrapper.Invoke, self.subgraph)

    def _get_output(self) -> np.ndarray:
        if self.signature is None:
            return self.interpreter.get_tensor(self.output["index"])
        return self.interpreter._interpreter.GetTensor(self.output["index"], self.subgraph)   # pylint: disable=protected-access

    def timed_call(self):
        """A no-argument callable that runs one inference on a fixed random input."""
        x = np.random.default_rng(0).standard_normal(self.input["shape"]).astype(np.float32)
        return self._set_input(_quantize(x, self.input))


def open_interpreter(path: str, threads: int = 1):
    """An allocated interpreter for a .tflite file (shared by the signatures of a batched file)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    if np.issubdtype(detail["dtype"], np.floating):
        return x.astype(detail["dtype"])
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(detail["dtype"])


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if np.issubdtype(detail["dtype"], np.floating):
        return y.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((y.astype(np.float32) - zero) * scale).astype(np.float32)
