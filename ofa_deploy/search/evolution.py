"""Constrained evolutionary search, vectorized: the population is one index matrix (Genome),
every generation makes all children at once, checks every constraint in one batched call and
scores the new networks in one predictor call.

The loop is the official one (population 100, 500 generations, the top 25 % become parents, half
the children are mutations and half crossovers, per-gene mutation probability 0.1, resolution 0.5,
children that break a constraint are re-drawn from the same parents). Several budgets run as
independent sub-populations in the same arrays, so a Pareto front costs one run."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..arch import ArchBatch, SearchSpace
from ..errors import InfeasibleError
from .constraints import Constraint, smallest_value
from .genome import Genome

MISS = 0.2     # aim: a slot stays open after a round with about this chance
TOP_UP = 400   # tries at least, in a round: the few slots left open are the hard ones


@dataclass(frozen=True)
class EvolutionConfig:
    """The official defaults. `max_redraws` bounds the re-drawing of children that break a constraint;
    `unique_parents` (not in the official loop) keeps copies of one network from crowding out others."""

    population: int = 100
    generations: int = 500
    parent_ratio: float = 0.25
    mutation_ratio: float = 0.5
    mutate_prob: float = 0.1
    resolution_mutate_prob: float = 0.5
    max_redraws: int = 100
    unique_parents: bool = True   # ours: copies of one network take one parent slot, not several

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evolution:
    """What one run found, per budget group k: best[k] with score[k] and constraint values[k]."""

    best: ArchBatch
    score: np.ndarray
    values: np.ndarray
    history: np.ndarray            # [generations + 1, K] best score so far
    population: ArchBatch          # the final population, all groups
    population_group: np.ndarray
    population_score: np.ndarray
    population_values: np.ndarray
    scored: int                    # distinct networks sent to the predictor
    cache_hits: int                # children whose network was already scored


class ScoreCache:
    """Scores genomes once per distinct network (archs differing only in skipped blocks are one)
    and gives each distinct network an integer id."""

    def __init__(self, genome: Genome, score: Callable[[np.ndarray], np.ndarray]):
        self.genome, self.score = genome, score
        self.memo: dict[bytes, int] = {}
        self.values, self.scored, self.hits = np.empty(1024), 0, 0

    def __call__(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, network ids) of the rows of g."""
        keys = self.genome.keys(g)
        memo = self.memo
        ids = list(map(memo.get, keys))
        first: dict[bytes, int] = {}          # unseen networks → their first row
        for i, j in enumerate(ids):
            if j is None:
                first.setdefault(keys[i], i)
        if first:
            rows = np.fromiter(first.values(), dtype=np.int64, count=len(first))
            base, self.scored = self.scored, self.scored + len(rows)
            if self.scored > len(self.values):
                self.values = np.concatenate([self.values, np.empty(max(self.scored, len(self.values)))])
            self.values[base:self.scored] = np.asarray(self.score(g[rows]), dtype=np.float64).reshape(len(rows))
            memo.update(zip(first, range(base, self.scored)))
            ids = list(map(memo.__getitem__, keys))
        self.hits += len(g) - len(first)
        ids_arr = np.fromiter(ids, dtype=np.int64, count=len(ids))
        return self.values[ids_arr], ids_arr


def evolve(space: SearchSpace, *args, **kwargs) -> Evolution:
    """Maximise predictor.predict(arch) subject to value_c(arch) ≤ limits[k, c], independently per row k
    (see _evolve). BLAS and torch run on one thread: the batches are small (a few hundred rows), where
    threads cost more in hand-offs than they save, and far more on a busy machine (8× here)."""
    import sys

    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")        # the MLP predictor runs its matmuls in torch
    threads = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(1)
        with threadpool_limits(1, user_api="blas"):
            return _evolve(space, *args, **kwargs)
    finally:
        if torch is not None:
            torch.set_num_threads(threads)


def _evolve(space: SearchSpace, predictor: Any, constraints: Sequence[Constraint], limits: np.ndarray,
           resolutions: Sequence[int], config: EvolutionConfig = EvolutionConfig(),
           rng: np.random.Generator | int | None = 0, progress: bool = True, desc: str = "search") -> Evolution:
    """Maximise predictor.predict(arch) subject to value_c(arch) ≤ limits[k, c], independently per row k."""
    from tqdm.auto import tqdm

    g = np.random.default_rng(rng)
    limits = np.atleast_2d(np.asarray(limits, dtype=np.float64))
    K, P = limits.shape[0], config.population
    n_par = max(1, int(round(config.parent_ratio * P)))
    n_mut = int(round(config.mutation_ratio * P))
    run = _Run(Genome(space, resolutions), constraints, limits, config, g)
    cache = ScoreCache(run.genome, run.genome.evaluator(predictor))
    pop, group, vals = run.initial(P)
    sc, ids = cache(pop)
    history = np.full((config.generations + 1, K), -np.inf)
    child_group = np.repeat(np.arange(K), P)
    parent_group = np.repeat(np.arange(K), n_par)
    is_mut = np.tile(np.arange(P) < n_mut, K)
    bar = tqdm(range(config.generations), desc=desc, disable=not progress, leave=False, mininterval=0.5)
    for gen in bar:
        keep = _top_per_group(sc, ids, group, K, n_par, config.unique_parents)
        pop, sc, ids, vals = pop[keep], sc[keep], ids[keep], vals[keep]
        history[gen] = np.maximum(history[gen - 1] if gen else -np.inf, sc[::n_par])
        pa = child_group * n_par + g.integers(0, n_par, K * P)
        pb = child_group * n_par + g.integers(0, n_par, K * P)
        kids, kid_vals = run.children(pop, vals, pa, pb, is_mut, child_group)
        kid_sc, kid_ids = cache(kids)
        pop, vals = np.concatenate([pop, kids]), np.concatenate([vals, kid_vals])
        sc, ids = np.concatenate([sc, kid_sc]), np.concatenate([ids, kid_ids])
        group = np.concatenate([parent_group, child_group])
        if gen % 50 == 0:
            bar.set_postfix(best=f"{history[gen].max():.4f}")
    keep = _top_per_group(sc, ids, group, K, P, config.unique_parents)
    pop, sc, vals, group = pop[keep], sc[keep], vals[keep], group[keep]
    history[-1] = np.maximum(history[-2] if config.generations else -np.inf, sc[::P])
    best = _best_dominated(sc, vals, group, limits, K)
    to_b = run.genome.to_batch
    return Evolution(to_b(pop[best]), sc[best], vals[best], history, to_b(pop), group, sc, vals,
                     cache.scored, cache.hits)


def _top_per_group(score: np.ndarray, ids: np.ndarray, group: np.ndarray, K: int, n: int, unique: bool) -> np.ndarray:
    """Indices of the n best of each group, group by group, best first (groups must hold ≥ n).
    With `unique`, copies of one network rank after every distinct network of the group."""
    dup = np.zeros(len(score), dtype=bool)
    if unique:
        dup[:] = True
        dup[np.unique(group * (ids.max() + 1) + ids, return_index=True)[1]] = False
    order = np.lexsort((-score, dup, group))
    starts = np.searchsorted(group[order], np.arange(K))
    return order[(starts[:, None] + np.arange(n)[None, :]).ravel()]


def _best_dominated(score, values, group, limits, K) -> np.ndarray:
    """For each group k, the best arch of any group whose limits are all ≤ k's: an arch that meets
    a tighter budget meets a looser one, so the front never goes down as budgets grow."""
    tops = [int(np.flatnonzero(group == k)[np.argmax(score[group == k])]) for k in range(K)]
    out = []
    for k in range(K):
        donors = [t for i, t in enumerate(tops) if np.all(limits[i] <= limits[k]) and np.all(values[t] <= limits[k])]
        out.append(max(donors, key=lambda t: score[t]))
    return np.asarray(out)


class _Run:
    """Sampling and child-making under the constraints, for the first and every later generation."""

    def __init__(self, genome: Genome, constraints, limits, config, rng):
        self.genome, self.constraints, self.limits, self.config, self.g = genome, list(constraints), limits, config, rng
        self.evals = [genome.evaluator(c.model) for c in self.constraints]
        self.thresholds = genome.mutation_thresholds(config.mutate_prob, config.resolution_mutate_prob)
        self.valid_share = np.array([0.5, 0.5])   # running share of valid [mutants, crossovers]

    def values(self, g: np.ndarray) -> np.ndarray:
        if len(self.evals) == 1:
            return self.evals[0](g)[:, None]
        if not self.evals:
            return np.zeros((len(g), 0))
        return np.stack([f(g) for f in self.evals], axis=1)

    def ok(self, vals: np.ndarray, limits: np.ndarray) -> np.ndarray:
        """Rows of vals within their limits (column by column: faster than .all(axis=1))."""
        out = np.ones(len(vals), dtype=bool)
        for j in range(vals.shape[1]):
            out &= vals[:, j] <= limits[:, j]
        return out

    def initial(self, P: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P valid random archs per group, drawn by rejection as the official search does."""
        K = len(self.limits)
        found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(K)]
        need = np.full(K, P)
        for _ in range(30):
            cand = self.genome.sample(max(2 * K * P, 2048), self.g)
            v = self.values(cand)
            for k in np.flatnonzero(need):
                idx = np.flatnonzero(self.ok(v, self.limits[np.full(len(cand), k)]))[:need[k]]
                if len(idx):
                    found[k].append((cand[idx], v[idx]))
                    need[k] -= len(idx)
            if not need.any():
                break
        for k in np.flatnonzero(need):
            found[k].append(self._grow(found[k], int(k), int(need[k])))
        pop = np.concatenate([x for parts in found for x, _ in parts])
        vals = np.concatenate([v for parts in found for _, v in parts])
        return pop, np.repeat(np.arange(K), P), vals

    def _grow(self, parts, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Fill a group random draws could not (a tight budget) by mutating the valid archs found,
        seeded with each constraint's cheapest arch."""
        gen, space = self.genome, self.genome.space
        res = gen.res.tolist()
        seeds = [smallest_value(c.model, space, res)[1] for c in self.constraints]
        seed_g = gen.from_batch(ArchBatch.from_archs(space, seeds + [space.smallest(r) for r in res]))
        sv = self.values(seed_g)
        ok = self.ok(sv, self.limits[np.full(len(seed_g), k)])
        pool = ([(seed_g[ok], sv[ok])] if ok.any() else []) + list(parts)
        if not pool:
            raise InfeasibleError("no subnet meets all constraints together (" + ", ".join(
                f"{c.name} ≤ {c.fmt(self.limits[k, j])}" for j, c in enumerate(self.constraints)) +
                "); each is reachable alone, but not at once: relax one of them")
        base = np.concatenate([x for x, _ in pool])
        base_v = np.concatenate([v for _, v in pool])
        idx = self.g.integers(0, len(base), n)
        return self.children(base, base_v, idx, idx, np.ones(n, dtype=bool), np.full(n, k))

    def children(self, parents: np.ndarray, parent_vals: np.ndarray, pa: np.ndarray, pb: np.ndarray,
                 is_mut: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One child per slot (mutation of pa, or crossover of pa and pb); a child that breaks a
        constraint is re-drawn from the same parents. Slots still open after max_redraws rounds
        keep a copy of parent pa (which meets every constraint)."""
        kids, kid_vals = parents[pa], parent_vals[pa]
        a_mut, a_cross, b_cross = kids[is_mut], kids[~is_mut], parents[pb[~is_mut]]
        slot_mut, slot_cross = np.flatnonzero(is_mut), np.flatnonzero(~is_mut)
        open_mut, open_cross = np.arange(len(slot_mut)), np.arange(len(slot_cross))
        gen, lim = self.genome, self.limits[group]
        for _ in range(self.config.max_redraws):
            # several i.i.d. tries per slot; a valid one wins: the same child distribution as
            # re-drawing one at a time, in far fewer rounds. Tries per slot follow the share of
            # valid children seen so far, for mutants and crossovers apart (here ~30 % and ~70 %).
            n_open = len(open_mut) + len(open_cross)
            need = np.ceil(np.log(MISS) / np.log(np.maximum(1e-3, 1.0 - self.valid_share)))
            r_mut, r_cross = np.minimum(64, np.maximum(need, max(1, TOP_UP // n_open))).astype(int).tolist()
            i_mut, i_cross = np.repeat(open_mut, r_mut), np.repeat(open_cross, r_cross)
            cand = np.concatenate([gen.mutate(a_mut[i_mut], self.g, self.thresholds),
                                   gen.crossover(a_cross[i_cross], b_cross[i_cross], self.g)])
            slots = np.concatenate([slot_mut[i_mut], slot_cross[i_cross]])
            v = self.values(cand)
            good = self.ok(v, lim[slots])
            ok = np.flatnonzero(good)
            n_mut = len(i_mut)
            seen = np.array([good[:n_mut].sum() / max(n_mut, 1) if n_mut else self.valid_share[0],
                             good[n_mut:].sum() / max(len(i_cross), 1) if len(i_cross) else self.valid_share[1]])
            self.valid_share = 0.8 * self.valid_share + 0.2 * seen
            # where a slot has several valid tries the last one assigned stays: which one is
            # chosen does not depend on the tries themselves, so it is a valid draw like any
            filled = slots[ok]
            kids[filled], kid_vals[filled] = cand[ok], v[ok]
            done = np.zeros(len(pa), dtype=bool)
            done[filled] = True
            open_mut, open_cross = open_mut[~done[slot_mut[open_mut]]], open_cross[~done[slot_cross[open_cross]]]
            if not len(open_mut) + len(open_cross):
                break
        return kids, kid_vals
