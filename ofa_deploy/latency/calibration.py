"""Calibration: the sum of separately timed ops misses what a whole network does differently
(fused ops, no per-op call overhead, warmer caches). Learn that gap from a few dozen subnets
measured whole: measured ≈ a·Σops + c·n_ops + b, a least-squares fit stored with the table."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from ..errors import BadArgumentError


@dataclass(frozen=True)
class Calibration:
    a: float
    c: float
    b: float
    n_subnets: int
    mape_before: float
    mape_after: float

    def apply(self, op_sum: np.ndarray, n_ops: np.ndarray) -> np.ndarray:
        return self.a * np.asarray(op_sum) + self.c * np.asarray(n_ops) + self.b

    def to_dict(self) -> dict:
        return {"kind": "linear: a*sum_of_ops + c*n_ops + b", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        return cls(**{k: d[k] for k in ("a", "c", "b", "n_subnets", "mape_before", "mape_after")})


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
