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
        R, B, K, E = stacked.shape
        # per block: a 0.0 first (a skipped block gathers it: its own entry may be missing, NaN),
        # then its entries at every (r, k, e); the position within a block fits a small int
        n = R * K * E + 1
        self.flat = np.concatenate([np.zeros((B, 1)), stacked.transpose(1, 0, 2, 3).reshape(B, -1)], axis=1).ravel()
        self._dt = np.dtype(np.int8 if n <= 127 else np.int16 if n <= 32767 else np.int32)
        t = self._dt.type
        self._r_base = (np.arange(R) * (K * E) + 1).astype(self._dt)     # position of (r, 0, 0), from 1
        self._E = t(E)
        self._b_off = np.arange(B, dtype=np.intp) * n

    def sum(self, r_idx: np.ndarray, e_idx: np.ndarray, active: np.ndarray,
            k_idx: np.ndarray | None = None) -> np.ndarray:
        """[N] values from per-arch resolution positions [N] and per-block expand/kernel positions
        [N, B] (any int dtype). Blocks an arch skips add nothing, even where their entry is missing
        (NaN). The positions are combined in the smallest int type that holds them (int8 genes
        need no cast) and widened once, when the block offsets are added: this runs on every
        candidate child of every generation."""
        dt = self._dt
        r_idx = np.asarray(r_idx)
        pos = self._r_base.take(r_idx)[:, None] + np.asarray(e_idx).astype(dt, copy=False)
        if k_idx is not None:
            pos += np.asarray(k_idx).astype(dt, copy=False) * self._E
        act = np.asarray(active)
        pos *= act.view(dt) if act.dtype == np.bool_ and dt == np.int8 else act.astype(dt, copy=False)
        # row sums by einsum, not a BLAS matrix-vector product: no BLAS threads on big batches
        return self.fixed.take(r_idx) + np.einsum("nb->n", self.flat.take(pos + self._b_off))


def additive_min(model: Any, space, resolutions: Sequence[int]) -> tuple[float, ArchConfig]:
    """(exact minimum, an arch that reaches it) of an additive model (see is_additive) over `space`
    at `resolutions`: per stage, the best depth of the cheapest block choices."""
    best: tuple[float, ArchConfig] | None = None
    ks_c, e_c = np.asarray(space.ks_choices), np.asarray(space.e_choices)
    for r in resolutions:
        fixed, blocks = model.tables(int(r))                   # [B, K, E]
        flat = blocks.reshape(space.n_blocks, -1)
        cheapest, choice = flat.min(axis=1), flat.argmin(axis=1)
        total, d, start = fixed, [], 0
        for s, n_max in enumerate(space.stage_depths):
            prefix = np.concatenate([[0.0], np.cumsum(cheapest[start:start + n_max])])
            options = [(prefix[min(space.stage_base[s] + dd, n_max)], dd) for dd in space.d_choices]
            cost, dd = min(options)
            total += cost
            d.append(dd)
            start += n_max
        k_idx, e_idx = np.unravel_index(choice, blocks.shape[1:])
        d_full = [space.d_choices[0]] * space.d_offset + d + [space.d_choices[0]] * (space.n_d - space.d_offset - len(d))
        arch = ArchConfig(ks=tuple(ks_c[k_idx].tolist()), e=tuple(e_c[e_idx].tolist()), d=tuple(d_full), r=int(r))
        if best is None or total < best[0]:
            best = (float(total), arch)
    assert best is not None
    return best
