"""Additive cost models: a subnet's cost is the sum of a per-op cost over its ops.

The MAC counter, the parameter counter and the latency-table predictor are all this one model
with different per-op functions. For block-decomposable spaces (every elastic block's op depends
only on the resolution, its index, its kernel size and its expand ratio) prediction is
vectorized: tables [resolution, block, kernel, expand] gathered with the batch's indices."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .arch import ArchBatch, ArchConfig
from .supernets.ops import Op


class AdditiveCost:
    """cost(arch) = Σ f(op, r) over arch's ops at its resolution r, for one supernet spec (see
    MBV3Spec.fixed_ops/block_op)."""

    def __init__(self, spec, op_cost: Callable[[Op, int], float]):
        self.spec, self.op_cost = spec, op_cost
        self.space = spec.space
        self._cache: dict[int, tuple[float, np.ndarray]] = {}

    def tables(self, r: int) -> tuple[float, np.ndarray]:
        """(cost of the fixed ops, [n_blocks, n_ks, n_e] cost of each block choice) at resolution r."""
        if r not in self._cache:
            sp = self.space
            fixed = float(sum(self.op_cost(op, r) for op in self.spec.fixed_ops(r)))
            blocks = np.array([[[self.op_cost(self.spec.block_op(r, i, k, e), r) for e in sp.e_choices]
                                for k in sp.ks_choices] for i in range(sp.n_blocks)], dtype=np.float64)
            self._cache[r] = (fixed, blocks)
        return self._cache[r]

    def predict(self, archs: ArchConfig | Sequence[ArchConfig] | ArchBatch) -> float | np.ndarray:
        """Cost of one arch (a float) or of many (an array), without a per-arch Python loop."""
        batch, single = ArchBatch.coerce(self.space, archs)
        out = self.predict_batch(batch)
        return float(out[0]) if single else out

    def predict_batch(self, batch: ArchBatch) -> np.ndarray:
        sp = self.space
        res, r_idx = np.unique(batch.r, return_inverse=True)
        k_idx = np.searchsorted(np.asarray(sp.ks_choices), batch.ks) if sp.n_ks else None
        e_idx = np.searchsorted(np.asarray(sp.e_choices, dtype=np.float64), batch.e)
        return StackedTables(self, res).sum(r_idx, e_idx, batch.active_mask(), k_idx)


def is_additive(model: Any, space) -> bool:
    """Whether `model` is an additive cost model over exactly `space`'s block choices (it has
    `tables(r)` and the same blocks, kernel sizes and expand ratios, and the space has no elastic
    width, which per-block tables cannot express): the one test behind the search's table gather
    and the exact minimum."""
    msp = getattr(model, "space", None)
    return (callable(getattr(model, "tables", None)) and msp is not None and not space.n_w
            and msp.n_blocks == space.n_blocks and tuple(msp.ks_choices) == tuple(space.ks_choices)
            and tuple(msp.e_choices) == tuple(space.e_choices))


class StackedTables:
    """An additive model's tables at several resolutions, flattened for one gather: the one home
    of value = fixed[r] + Σ over active blocks b of blocks[r, b, k, e]."""

    def __init__(self, model: Any, resolutions: Sequence[int]):
        fixed, blocks = zip(*(model.tables(int(r)) for r in resolutions))
        self.fixed = np.asarray(fixed, dtype=np.float64)
        stacked = np.stack(blocks)                                       # [R, B, K, E]
        _, B, K, E = stacked.shape
        # one 0.0 after the entries: a skipped block gathers it (its own entry may be missing, NaN)
        self.flat = np.concatenate([stacked.reshape(-1), [0.0]])
        self._skip, self._stride_r, self._stride_k = np.int32(stacked.size), np.int32(B * K * E), np.int32(E)
        self._b_off = (np.arange(B, dtype=np.int32) * np.int32(K * E))[None, :]
        self._ones = np.ones(B)

    def sum(self, r_idx: np.ndarray, e_idx: np.ndarray, active: np.ndarray,
            k_idx: np.ndarray | None = None) -> np.ndarray:
        """[N] values from per-arch resolution positions [N] and per-block expand/kernel positions
        [N, B] (any int dtype; int8 genes are widened to int32 so the flat index cannot overflow).
        Blocks an arch skips add nothing, even where their entry is missing (NaN). Arithmetic
        instead of masked selects and a matrix-vector product for the row sums: this runs on
        every candidate child of every generation."""
        r_idx = np.asarray(r_idx).astype(np.int32, copy=False)
        idx = (r_idx * self._stride_r - self._skip)[:, None] + self._b_off + e_idx
        if k_idx is not None:
            idx += k_idx * self._stride_k
        idx *= active              # skipped blocks → offset 0 → the trailing 0.0
        idx += self._skip
        return self.fixed[r_idx] + self.flat.take(idx) @ self._ones
