"""The search's working form of a population: one int8 matrix of choice indices per arch
([ks | e | d | r | w] columns), so sampling, mutation, crossover and the cost lookups are a few
whole-matrix numpy operations. Converts to and from ArchBatch at the edges.

Cost models take a fast path when they allow it: additive models (with `tables(r)`) become one
gather from a [resolution, block, kernel, expand] table, and the MLP accuracy predictor gets its
one-hot features straight from the indices. Any other model is called with an ArchBatch."""
from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

import numpy as np

from ..arch import ArchBatch, SearchSpace
from ..cost import StackedTables, is_additive
from ..errors import BadArgumentError


class Genome:
    """Index-matrix codec for archs of `space` searched at `resolutions`."""

    def __init__(self, space: SearchSpace, resolutions: Sequence[int]):
        self.space, self.res = space, np.asarray(sorted(int(r) for r in resolutions))
        nb, sp = space.n_blocks, space
        self.ks_c, self.e_c = np.asarray(sp.ks_choices), np.asarray(sp.e_choices, dtype=np.float64)
        self.d_c, self.w_c = np.asarray(sp.d_choices), np.asarray(sp.w_choices, dtype=np.int64)
        sizes = [(sp.n_ks, len(sp.ks_choices)), (nb, len(sp.e_choices)), (sp.n_d, len(sp.d_choices)),
                 (1, len(self.res)), (sp.n_w, len(sp.w_choices))]
        bounds = np.cumsum([0] + [n for n, _ in sizes])
        self.ks, self.e, self.d, self.r, self.w = (slice(bounds[i], bounds[i + 1]) for i in range(5))
        self.n_choices = np.concatenate([np.full(n, c) for n, c in sizes]).astype(np.int64)
        self.n_choices_u64 = self.n_choices.astype(np.uint64)
        self.width = int(bounds[-1])
        self._stage = np.asarray(sp.block_stage)
        self._pos = np.asarray(sp.block_position)
        self._depth_of = np.minimum(np.asarray(sp.stage_base)[:, None] + self.d_c[None, :],
                                    np.asarray(sp.stage_depths)[:, None])   # [S, n_d choices]
        S, n_d = sp.n_stages, len(sp.d_choices)
        self._d_cols = np.arange(self.d.start + sp.d_offset, self.d.start + sp.d_offset + S)
        self._d_powers = n_d ** np.arange(S - 1, -1, -1, dtype=np.int64)
        self._active_of = None
        if n_d ** S <= 1 << 16:
            combos = np.asarray(list(itertools.product(range(n_d), repeat=S)), dtype=np.int64).reshape(-1, S)
            self._active_of = self._active_from_depths(combos)

    # ---- evolution operators ----------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return (rng.random((n, self.width), dtype=np.float32) * self.n_choices).astype(np.int8)

    def mutation_thresholds(self, prob: float, r_prob: float) -> np.ndarray:
        """[width] uint32 thresholds on 32-bit uniform draws: a gene mutates when its draw is below
        its threshold, i.e. with chance prob (the resolution with r_prob) — the official per-gene
        mutation, to 2**-32."""
        p = np.full(self.width, float(prob))
        p[self.r] = r_prob
        return np.minimum(np.round(p * 2.0 ** 32), 2 ** 32 - 1).astype(np.uint32)  # p = 1: all but 2**-32

    def mutate(self, g: np.ndarray, rng: np.random.Generator, thresholds: np.ndarray) -> np.ndarray:
        """Mutated copies of the rows of g, from one 32-bit draw u per gene: a gene with u below its
        threshold T is re-drawn as u * n // T, uniform over its n choices (given u < T, u is
        uniform on 0..T-1), so one draw decides both whether and to what."""
        n, w = g.shape
        u = rng.bit_generator.random_raw((n * w + 1) // 2).view(np.uint32)[:n * w]
        hit = np.flatnonzero(u.reshape(n, w) < thresholds)
        cols = hit % w
        out = g.copy()
        out.reshape(-1)[hit] = (u[hit] * self.n_choices_u64[cols]) // thresholds[cols]
        return out

    def crossover(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each gene from a or b with chance 1/2 (one random bit per gene), by bit arithmetic
        (a ^ ((a ^ b) & mask)): numpy's masked select is ~20x slower on int8 rows."""
        n, w = a.shape
        words = (w + 63) // 64
        bits = np.unpackbits(rng.bit_generator.random_raw(n * words).view(np.uint8).reshape(n, 8 * words),
                             axis=1, count=w, bitorder="little")
        return a ^ ((a ^ b) & np.negative(bits).view(np.int8))

    # ---- structure ---------------------------------------------------------------------------
    def active(self, g: np.ndarray) -> np.ndarray:
        """[N, n_blocks] bool: blocks the archs run."""
        d_idx = g[:, self._d_cols].astype(np.int64)
        if self._active_of is not None:                 # one row per combination of stage depths
            return self._active_of[d_idx @ self._d_powers]
        return self._active_from_depths(d_idx)

    def _active_from_depths(self, d_idx: np.ndarray) -> np.ndarray:
        """[N, S] depth-choice indices → [N, n_blocks] bool."""
        depth = self._depth_of[np.arange(self.space.n_stages)[None, :], d_idx]      # [N, S]
        return self._pos[None, :] < depth[:, self._stage]

    def keys(self, g: np.ndarray) -> list[bytes]:
        """One key per arch; archs that build the same network (differing only in skipped blocks) share it."""
        act = self.active(g)
        masked = g.copy()
        on = act.view(np.int8)
        masked[:, self.e] = (g[:, self.e] + 1) * on - 1       # skipped blocks' genes → -1
        if self.space.n_ks:
            masked[:, self.ks] = (g[:, self.ks] + 1) * on - 1
        masked = np.ascontiguousarray(masked)
        return masked.view(np.dtype((np.void, self.width))).ravel().tolist()

    # ---- conversion --------------------------------------------------------------------------
    def to_batch(self, g: np.ndarray) -> ArchBatch:
        gi = g.astype(np.int64)
        return ArchBatch(self.space, self.ks_c[gi[:, self.ks]] if self.space.n_ks else gi[:, self.ks],
                         self.e_c[gi[:, self.e]], self.d_c[gi[:, self.d]], self.res[gi[:, self.r][:, 0]],
                         self.w_c[gi[:, self.w]] if self.space.n_w else gi[:, self.w])

    def from_batch(self, b: ArchBatch) -> np.ndarray:
        missing = sorted(set(b.r.tolist()) - set(self.res.tolist()))
        if missing:
            raise BadArgumentError(f"archs at resolutions {missing} are outside this search's {self.res.tolist()}")
        cols = [_index(self.ks_c, b.ks) if self.space.n_ks else b.ks,
                _index(self.e_c, b.e), _index(self.d_c, b.d), np.searchsorted(self.res, b.r)[:, None],
                _index(self.w_c, b.w) if self.space.n_w else b.w]
        return np.concatenate([np.asarray(c, dtype=np.int64).reshape(len(b), -1) for c in cols], axis=1).astype(np.int8)

    # ---- fast evaluators ---------------------------------------------------------------------
    def evaluator(self, model: Any) -> Callable[[np.ndarray], np.ndarray]:
        """g → values of `model`, through a fast path when the model allows one."""
        if is_additive(model, self.space):
            return self._additive(model)
        enc = getattr(model, "encoder", None)
        if enc is not None and callable(getattr(model, "forward_features", None)) and enc.fits(self.space):
            return self._mlp(model, enc)
        return lambda g: np.asarray(model.predict(self.to_batch(g)), dtype=np.float64).reshape(len(g))

    def _additive(self, model) -> Callable[[np.ndarray], np.ndarray]:
        tables, r, e, ks = StackedTables(model, self.res), self.r.start, self.e, self.ks
        has_ks = bool(self.space.n_ks)
        return lambda g: tables.sum(g[:, r], g[:, e], self.active(g), g[:, ks] if has_ks else None)

    def _mlp(self, model, enc) -> Callable[[np.ndarray], np.ndarray]:
        """Gene indices → the encoder's positions (small lookup arrays), then the encoder's own layout."""
        enc.check_resolutions(self.res.tolist())
        k_pos = np.array([list(enc.ks_choices).index(k) for k in self.ks_c]) if self.space.n_ks else None
        e_pos = np.array([list(enc.e_choices).index(e) for e in self.e_c])
        r_pos = (self.res - enc.r_base) // enc.r_step
        w_pos = np.array([list(enc.w_choices).index(w) for w in self.w_c]) if self.space.n_w else None

        def values(g: np.ndarray) -> np.ndarray:
            x = enc.features(self.active(g), e_pos[g[:, self.e]], r_pos[g[:, self.r.start]],
                             k_pos[g[:, self.ks]] if k_pos is not None else None,
                             w_pos[g[:, self.w]] if w_pos is not None else None)
            return model.forward_features(x)
        return values


def _index(choices: np.ndarray, values: np.ndarray) -> np.ndarray:
    order = np.argsort(choices)
    return order[np.searchsorted(choices[order], values)]
