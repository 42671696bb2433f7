"""Validate an exported artifact against its PyTorch source: the same fixed inputs through both,
max-abs-diff and top-1 agreement; fp32 must stay within tolerance, fp16/int8 are reported."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..errors import ValidationError
from .base import Artifact

FP32_ATOL = 1e-4


@dataclass(frozen=True)
class Parity:
    max_abs_diff: float
    top1_agreement: float
    n: int
    atol: float | None          # None: reported only (fp16/int8)

    @property
    def ok(self) -> bool:
        return self.atol is None or self.max_abs_diff <= self.atol

    def summary(self) -> str:
        return f"max|Δ| {self.max_abs_diff:.1e}, top-1 {100 * self.top1_agreement:.0f}%"

    def to_dict(self) -> dict:
        return asdict(self)


def fixed_inputs(input_shape: tuple[int, ...], n: int = 4, seed: int = 0) -> np.ndarray:
    """`n` seeded N(0, 1) images of the artifact's shape, as one float32 array [n, C, H, W]."""
    g = np.random.default_rng(seed)
    return g.standard_normal((n, *input_shape[1:])).astype(np.float32)


def validate_outputs(model: torch.nn.Module, backend, artifact: Artifact, n: int = 4) -> Parity:
    """Run fixed inputs through torch and the artifact, one image at a time (artifacts have a
    static batch of 1); raise ValidationError when an fp32 artifact differs by more than 1e-4."""
    x = fixed_inputs(artifact.input_shape, n)
    model.eval()
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    b = artifact.input_shape[0] or 1
    got = np.concatenate([np.asarray(backend.run(artifact, x[i:i + b])).reshape(len(x[i:i + b]), -1)
                          for i in range(0, n, b)])
    ref = ref.reshape(n, -1)
    if got.shape != ref.shape:
        raise ValidationError(f"{artifact.backend} output '{artifact.output_name}' has shape {got.shape}, the "
                              f"PyTorch model gives {ref.shape}")
    diff = float(np.abs(got.astype(np.float64) - ref).max())
    agree = float((got.argmax(1) == ref.argmax(1)).mean())
    parity = Parity(diff, agree, n, FP32_ATOL if artifact.precision == "fp32" else None)
    if not parity.ok:
        raise ValidationError(f"{artifact.backend} output '{artifact.output_name}' differs from PyTorch by "
                              f"max|Δ| {diff:.2e} > atol {FP32_ATOL:.0e} ({artifact.path}); the export is wrong — "
                              f"re-export with validate=False only to inspect it")
    return parity
