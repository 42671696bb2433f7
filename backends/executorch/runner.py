"""Run a .pte on this host with executorch.runtime (the XNNPACK delegate is built into the wheel)."""
from __future__ import annotations

import numpy as np

_THREADS: list[int] = []


def set_threads(threads: int) -> None:
    """XNNPACK's thread pool is process-wide: reset it when the count changes."""
    from executorch.extension.pybindings import portable_lib

    if _THREADS != [threads]:
        portable_lib._unsafe_reset_threadpool(int(threads))
        _THREADS[:] = [threads]


def load_program(path):
    """A loaded .pte program (shared by the methods of a batched file)."""
    from executorch.runtime import Runtime

    return Runtime.get().load_program(str(path))


class LocalProgram:
    """A loaded method (`forward`, or one op of a batched multi-method .pte) of one program, with
    its static input shape and dtype."""

    def __init__(self, path, input_shape: tuple[int, ...], fp16: bool = False, method: str = "forward",
                 program=None):
        self.program = program or load_program(path)
        self.method = self.program.load_method(method)
        self.shape, self.fp16 = tuple(input_shape), fp16

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits for a batch, one model-batch at a time (the program has a static batch)."""
        b = self.shape[0] or 1
        return np.concatenate([self._invoke(x[i:i + b]) for i in range(0, len(x), b)])

    def _invoke(self, x: np.ndarray):
        import torch

        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return self.method.execute([t.half() if self.fp16 else t])[0].float().numpy()

    def timed_call(self):
        """A no-argument callable running one inference on a fixed random input."""
        import torch

        x = torch.from_numpy(np.random.default_rng(0).standard_normal(self.shape).astype(np.float32))
        args = [x.half() if self.fp16 else x]
        return lambda: self.method.execute(args)
