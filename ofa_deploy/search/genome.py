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

    def mutation_thresholds(self, prob: float, r_prob: float) -> "Mutation":
        """The official per-gene mutation: each gene with chance prob (the resolution with r_prob),
        as thresholds on 32-bit uniform draws (exact to 2**-32)."""
        p = np.full(self.width, float(prob))
        p[self.r] = r_prob
        return Mutation(np.minimum(np.round(p * 2.0 ** 32), 2 ** 32 - 1).astype(np.uint32), self.n_choices)

    def offspring(self, parents: np.ndarray, ia: np.ndarray, ib: np.ndarray, n_mut: int,
                  rng: np.random.Generator, mutation: "Mutation | None" = None) -> np.ndarray:
        """Children of parents in one array: rows [:n_mut] mutants of parents[ia[:n_mut]], the rest
        crossovers of parents[ia[n_mut:]] and parents[ib].

        Mutation: one 32-bit draw u per gene; the gene mutates when u is below its threshold T
        and is then re-drawn as floor(u * n / T), uniform over its n choices (given u < T, u is
        uniform on 0..T-1; in float64 the split points move by < 2**-32), so one draw decides
        both whether and to what. Crossover: each gene from either parent with chance 1/2 (one
        random bit per gene), by bit arithmetic a ^ ((a ^ b) & mask): numpy's masked select is
        ~20x slower on int8 rows."""
        out = parents[ia]
        n, w = out.shape
        if n_mut:
            u = rng.bit_generator.random_raw((n_mut * w + 1) // 2).view(np.uint32)[:n_mut * w]
            t, scale = mutation.rows(n_mut)
            hit = (u < t[:n_mut * w]).nonzero()[0]
            # in float64, u * (n / T) < n for every u < T ≤ 2**32: a value cannot leave its range
            out.reshape(-1)[hit] = (u[hit] * scale.take(hit)).astype(np.int8)
        if n > n_mut:
            words = (w + 63) // 64
            bits = np.unpackbits(rng.bit_generator.random_raw((n - n_mut) * words).view(np.uint8)
                                 .reshape(n - n_mut, 8 * words), axis=1, count=w, bitorder="little")
            a = out[n_mut:]
            d = a ^ parents[ib]
            d &= np.negative(bits).view(np.int8)
            a ^= d
        return out

    def mutate(self, g: np.ndarray, rng: np.random.Generator, mutation: "Mutation") -> np.ndarray:
        """Mutated copies of the rows of g (see offspring)."""
        return self.offspring(g, np.arange(len(g)), np.arange(0), len(g), rng, mutation)

    def crossover(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each gene from a or b with chance 1/2 (see offspring)."""
        n = len(a)
        return self.offspring(np.concatenate([a, b]), np.arange(n), np.arange(n, 2 * n), 0, rng)

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
        off = self.active(g).view(np.int8) - np.int8(1)       # 0 where a block runs, -1 where it is skipped
        masked = g.copy()
        masked[:, self.e] |= off                               # skipped blocks' genes → -1
        if self.space.n_ks:
            masked[:, self.ks] |= off
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

        def mapper(table: np.ndarray | None, cols: slice) -> Callable[[np.ndarray], np.ndarray | None]:
            """g → encoder positions of the genes in cols (the genes themselves when the choices
            come in the encoder's order: no gather)."""
            if table is None:
                return lambda g: None
            if np.array_equal(table, np.arange(len(table))):
                return lambda g: g[:, cols]
            return lambda g: table[g[:, cols]]

        e_of, k_of, w_of = mapper(e_pos, self.e), mapper(k_pos, self.ks), mapper(w_pos, self.w)

        def values(g: np.ndarray) -> np.ndarray:
            x = enc.features(self.active(g), e_of(g), r_pos[g[:, self.r.start]], k_of(g), w_of(g))
            return model.forward_features(x)
        return values


class Mutation:
    """Per-gene mutation thresholds `t` (uint32, on 32-bit draws) and each gene's n / T, both also
    repeated row after row, so that flat gene positions index them directly (no modulo)."""

    def __init__(self, t: np.ndarray, n_choices: np.ndarray):
        self.t = t
        self._scale = n_choices / np.maximum(t, 1).astype(np.float64)
        self._rows = (np.tile(t, 256), np.tile(self._scale, 256))

    def rows(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(T, n / T) for the genes of at least n rows, flat."""
        if len(self._rows[0]) < n * len(self.t):
            self._rows = (np.tile(self.t, 2 * n), np.tile(self._scale, 2 * n))
        return self._rows


def _index(choices: np.ndarray, values: np.ndarray) -> np.ndarray:
    order = np.argsort(choices)
    return order[np.searchsorted(choices[order], values)]
