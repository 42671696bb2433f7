"""Additive cost models: a subnet's cost is the sum of a per-op cost over its ops.

The MAC counter, the parameter counter and the latency-table predictor are all this one model
with different per-op functions. For block-decomposable spaces (every elastic block's op depends
only on the resolution, its index, its kernel size and its expand ratio) prediction is
vectorized: tables [resolution, block, kernel, expand] gathered with the batch's indices."""
from __future__ import annotations

from typing import Callable, Sequence

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
        single = isinstance(archs, ArchConfig)
        batch = archs if isinstance(archs, ArchBatch) else ArchBatch.from_archs(
            self.space, [archs] if single else archs)
        out = self.predict_batch(batch)
        return float(out[0]) if single else out

    def predict_batch(self, batch: ArchBatch) -> np.ndarray:
        sp = self.space
        res, r_idx = np.unique(batch.r, return_inverse=True)
        fixed, blocks = zip(*(self.tables(int(r)) for r in res))
        fixed, blocks = np.asarray(fixed), np.stack(blocks)          # [R], [R, B, K, E]
        k_idx = np.searchsorted(np.asarray(sp.ks_choices), batch.ks)
        e_idx = np.searchsorted(np.asarray(sp.e_choices, dtype=np.float64), batch.e)
        b_idx = np.arange(sp.n_blocks)[None, :]
        per_block = blocks[r_idx[:, None], b_idx, k_idx, e_idx]      # [N, B]
        return fixed[r_idx] + np.where(batch.active_mask(), per_block, 0.0).sum(axis=1)
