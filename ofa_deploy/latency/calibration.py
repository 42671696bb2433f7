"""Calibration: the sum of separately timed ops misses what a whole network does differently
(fused ops, no per-op call overhead, warmer caches). Learn that gap from a few dozen subnets
measured whole: measured ≈ a·Σops + c·n_ops + b, a least-squares fit stored with the table.

Every correction is linear in additive features of the arch (`residual.py` has the richer ones),
so it folds into the per-op tables and the search keeps its exact table gather."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np
from ..errors import BadArgumentError


class LinearInFeatures:
    """Shared behaviour of corrections of the form Σ w_f · feature_f(arch) (feature "one" = 1)."""

    weights: Mapping[str, float]

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.weights)

    @property
    def n_params(self) -> int:
        return len(self.weights)

    def apply_features(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The prediction from each feature's per-arch values ([N] arrays)."""
        return sum(w * np.asarray(values[f], dtype=np.float64) for f, w in self.weights.items())

    def fold(self, tables: Mapping[str, tuple[float, np.ndarray]]) -> tuple[float, np.ndarray]:
        """The same prediction as one additive table pair (fixed, [B, K, E] blocks)."""
        fixed = sum(w * float(tables[f][0]) for f, w in self.weights.items())
        blocks = sum(w * np.asarray(tables[f][1], dtype=np.float64) for f, w in self.weights.items())
        return float(fixed), blocks


@dataclass(frozen=True)
class Calibration(LinearInFeatures):
    a: float
    c: float
    b: float
    n_subnets: int
    mape_before: float
    mape_after: float

    @property
    def weights(self) -> dict[str, float]:
        return {"sum": self.a, "ops": self.c, "one": self.b}

    @property
    def model(self) -> str:
        return "linear"

    def apply(self, op_sum: np.ndarray, n_ops: np.ndarray) -> np.ndarray:
        return self.apply_features({"sum": op_sum, "ops": n_ops, "one": 1.0})

    def to_dict(self) -> dict:
        return {"kind": "linear: a*sum_of_ops + c*n_ops + b", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        return cls(**{k: d[k] for k in ("a", "c", "b", "n_subnets", "mape_before", "mape_after")})


def correction_from_dict(d: dict):
    """A stored correction of either kind (the linear calibration or a learned residual)."""
    if str(d.get("kind", "")).startswith("residual"):
        from .residual import Residual

        return Residual.from_dict(d)
    return Calibration.from_dict(d)


def mape(pred: np.ndarray, meas: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(pred) - meas) / meas) * 100)


def fit_calibration(op_sum: np.ndarray, n_ops: np.ndarray, measured: np.ndarray) -> Calibration:
    """Least squares on relative error (every subnet counts the same whatever its size)."""
    op_sum, n_ops, measured = (np.asarray(v, dtype=np.float64) for v in (op_sum, n_ops, measured))
    if len(measured) < 4:
        raise BadArgumentError(f"calibration needs at least 4 measured subnets, got {len(measured)}")
    X = np.stack([op_sum, n_ops, np.ones_like(op_sum)], axis=1) / measured[:, None]
    a, c, b = np.linalg.lstsq(X, np.ones_like(measured), rcond=None)[0]
    cal = Calibration(float(a), float(c), float(b), len(measured), mape(op_sum, measured), 0.0)
    return Calibration(cal.a, cal.c, cal.b, cal.n_subnets, cal.mape_before, mape(cal.apply(op_sum, n_ops), measured))
