"""Search constraints: a name, a cost model with batched `predict`, and an upper limit — plus the
smallest value the space can reach, so an infeasible request fails before any search runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..arch import ArchBatch, ArchConfig, SearchSpace
from ..cost import additive_min, is_additive
from ..errors import InfeasibleError

UNITS = {"latency": "ms", "macs": "MACs", "params": "params"}


@dataclass
class Constraint:
    """value(arch) ≤ limit, with value from `model.predict(ArchBatch) -> array`."""

    name: str
    model: Any
    limit: float
    unit: str = ""
    describe: dict[str, Any] = field(default_factory=dict)

    def values(self, batch: ArchBatch) -> np.ndarray:
        return np.asarray(self.model.predict(batch), dtype=np.float64).reshape(len(batch))

    def fmt(self, v: float) -> str:
        if self.unit == "ms":
            return format_ms(v)
        return f"{v / 1e6:.1f}M {self.unit}"


def format_ms(v: float) -> str:
    """Milliseconds for people: two decimals from 1 ms up, three significant digits below
    (0.001 ms, not "0.00 ms")."""
    return f"{v:.2f} ms" if abs(v) >= 1 or v == 0 else f"{v:.3g} ms"


def smallest_value(model: Any, space: SearchSpace, resolutions: Sequence[int], samples: int = 4096,
                   seed: int = 0) -> tuple[float, ArchConfig, bool]:
    """(smallest value, an arch that reaches it, exact?) of a cost model over `space` at `resolutions`.

    Additive cost models (with `tables(r)`) give the exact minimum: per stage, the best depth of
    the cheapest block choices. Other models get the best of the smallest archs and a sample."""
    if is_additive(model, space):
        return additive_min(model, space, resolutions) + (True,)
    cands = ArchBatch.concat([ArchBatch.from_archs(space, [space.smallest(r) for r in resolutions]),
                              ArchBatch.sample(space, samples, seed, resolutions)])
    vals = np.asarray(model.predict(cands), dtype=np.float64)
    i = int(np.argmin(vals))
    return float(vals[i]), cands[i].to_archs()[0], False


def check_feasible(constraints: Sequence[Constraint], space: SearchSpace, resolutions: Sequence[int],
                   limits: np.ndarray | None = None, what: str = "") -> dict[str, float]:
    """Smallest reachable value of each constraint; InfeasibleError when one is above its limit.

    limits: optional [K, C] array (several budgets); the tightest limit per constraint is checked."""
    smallest = {}
    for j, c in enumerate(constraints):
        lo, _, exact = smallest_value(c.model, space, resolutions)
        smallest[c.name] = lo
        limit = float(np.min(limits[:, j])) if limits is not None else c.limit
        if lo > limit:
            how = "the smallest" if exact else "the smallest found"
            raise InfeasibleError(
                f"{c.name} ≤ {c.fmt(limit)} is infeasible{what}: {how} subnet of {space.name} at resolutions "
                f"{list(resolutions)} needs {c.fmt(lo)}; raise the limit to at least that", smallest=lo)
    return smallest
