"""Run and time a .tflite on this host with ai-edge-litert's interpreter (XNNPACK on the CPU)."""
from __future__ import annotations

import numpy as np


class LocalModel:
    """An allocated interpreter for one .tflite; converts NCHW float32 in and float32 out,
    quantizing and dequantizing where the model's input/output are integer (full-int8)."""

    def __init__(self, path: str, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits for a batch, one model-batch at a time (the graph has a static batch)."""
        b = int(self.input["shape"][0]) or 1
        return np.concatenate([self._invoke(x[i:i + b]) for i in range(0, len(x), b)])

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input["index"], _quantize(x.astype(np.float32), self.input))
        self.interpreter.invoke()
        return _dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)

    def timed_call(self):
        """A no-argument callable that runs one inference on a fixed random input."""
        x = np.random.default_rng(0).standard_normal(self.input["shape"]).astype(np.float32)
        self.interpreter.set_tensor(self.input["index"], _quantize(x, self.input))
        return self.interpreter.invoke


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
