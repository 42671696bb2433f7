"""Constrained evolutionary search, vectorized: the population is one index matrix (Genome),
every generation makes all children at once, checks every constraint in one batched call and
scores the new networks in one predictor call.

The loop is the official one (population 100, 500 generations, the top 25 % become parents, half
the children are mutations and half crossovers, per-gene mutation probability 0.1, resolution 0.5,
children that break a constraint are re-drawn from the same parents). Several budgets run as
independent sub-populations in the same arrays, so a Pareto front costs one run."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..arch import ArchBatch, SearchSpace
from ..errors import InfeasibleError
from .constraints import Constraint, smallest_value
from .genome import Genome

MISS = 0.2     # aim: a slot stays open after a round with about this chance
TOP_UP = 150   # tries at least, in a round: the few slots left open are the hard ones (a round costs
               # about as much as 150 tries; on the Note10 w1.2 bench 400 made child-making ~15 % slower)


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
        memo = self.memo
        n0 = len(memo)
        # a new network gets the next id (len(memo) is read before setdefault inserts it)
        ids = np.fromiter([memo.setdefault(k, len(memo)) for k in self.genome.keys(g)], dtype=np.int64, count=len(g))
        n1 = len(memo)
        if n1 > n0:
            new = (ids >= n0).nonzero()[0]
            rows = new[np.unique(ids[new], return_index=True)[1]]     # each new network's first row
            if n1 > len(self.values):
                self.values = np.concatenate([self.values, np.empty(max(n1, len(self.values)))])
            self.values[n0:n1] = np.asarray(self.score(g[rows]), dtype=np.float64).reshape(n1 - n0)
            self.scored = n1
        self.hits += len(g) - (n1 - n0)
        return self.values[ids], ids


def evolve(space: SearchSpace, *args, **kwargs) -> Evolution:
    """Maximise predictor.predict(arch) subject to value_c(arch) ≤ limits[k, c], independently per row k
    (see _evolve). torch runs on one thread: the batches are small (a few dozen rows), where
    threads cost more in hand-offs than they save, and far more on a busy machine (8× here). The
    loop makes no BLAS calls of its own (row sums go through einsum), so numpy's BLAS threads
    need no limit."""
    import sys

    torch = sys.modules.get("torch")        # the MLP predictor runs its matmuls in torch
    threads = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(1)
        return _evolve(space, *args, **kwargs)
    finally:
        if torch is not None:
            torch.set_num_threads(threads)


def _evolve(space: SearchSpace, predictor: Any, constraints: Sequence[Constraint], limits: np.ndarray,
           resolutions: Sequence[int], config: EvolutionConfig = EvolutionConfig(),
           rng: np.random.Generator | int | None = 0, progress: bool = True, desc: str = "search") -> Evolution:
    """Maximise predictor.predict(arch) subject to value_c(arch) ≤ limits[k, c], independently per row k."""
    g = np.random.default_rng(rng)
    limits = np.atleast_2d(np.asarray(limits, dtype=np.float64))
    K, P = limits.shape[0], config.population
    n_par = max(1, int(round(config.parent_ratio * P)))
    n_mut = int(round(config.mutation_ratio * P))
    run = _Run(Genome(space, resolutions), constraints, limits, config, g)
    cache = ScoreCache(run.genome, run.genome.evaluator(predictor))
    pop, group = run.initial(P)
    sc, ids = cache(pop)
    history = np.full((config.generations + 1, K), -np.inf)
    # child slots: the mutants of every group, then the crossovers of every group
    child_group = np.concatenate([np.repeat(np.arange(K), n_mut), np.repeat(np.arange(K), P - n_mut)])
    first_parent = np.tile(child_group * n_par, 2)         # [pa | pb]: each slot draws within its group
    group_after = np.concatenate([np.repeat(np.arange(K), n_par), child_group])
    bar: Any = range(config.generations)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc=desc, leave=False, mininterval=0.5)
    for gen in bar:
        keep = _top_per_group(sc, ids, group, K, n_par, config.unique_parents)
        pop, sc, ids, group = pop[keep], sc[keep], ids[keep], group_after
        history[gen] = sc[::n_par]
        pab = first_parent + g.integers(0, n_par, 2 * K * P)
        kids = run.children(pop, pab[:K * P], pab[K * P:], K * n_mut, child_group)
        kid_sc, kid_ids = cache(kids)
        pop, sc, ids = np.concatenate((pop, kids)), np.concatenate((sc, kid_sc)), np.concatenate((ids, kid_ids))
        if progress and gen % 50 == 0:
            bar.set_postfix(best=f"{history[:gen + 1].max():.4f}", refresh=False)   # shown at the next refresh, with the right count
    keep = _top_per_group(sc, ids, group, K, P, config.unique_parents)
    pop, sc, group = pop[keep], sc[keep], group[keep]
    history[-1] = sc[::P]
    history = np.maximum.accumulate(history, axis=0)      # best so far
    vals = run.values(pop)
    best = _best_dominated(sc, vals, group, limits, K)
    to_b = run.genome.to_batch
    return Evolution(to_b(pop[best]), sc[best], vals[best], history, to_b(pop), group, sc, vals,
                     cache.scored, cache.hits)


def _top_per_group(score: np.ndarray, ids: np.ndarray, group: np.ndarray, K: int, n: int, unique: bool) -> np.ndarray:
    """Indices of the n best of each group, group by group, best first (groups must hold ≥ n).
    With `unique`, copies of one network (one id, so one score) rank after every distinct
    network of the group; the first copy in array order counts as the distinct one."""
    keys = ((ids,) if unique else ()) + (-score,) + ((group,) if K > 1 else ())
    order = np.lexsort(keys)                     # stable: copies in array order
    if unique:
        gi, ii = group[order], ids[order]
        dup = np.zeros(len(order), dtype=bool)
        np.equal(ii[1:], ii[:-1], out=dup[1:])         # copies sit next to each other
        if K > 1:
            dup[1:] &= gi[1:] == gi[:-1]
        elif len(order) - np.count_nonzero(dup) >= n:  # one group with n distinct networks: the common case
            return order[~dup][:n]
        order = order[np.lexsort((dup, gi))]
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
        self.mutation = genome.mutation_thresholds(config.mutate_prob, config.resolution_mutate_prob)
        self.valid_share = [0.5, 0.5]   # running share of valid [mutants, crossovers]

    def values(self, g: np.ndarray) -> np.ndarray:
        """[N, C] constraint values."""
        if not self.evals:
            return np.zeros((len(g), 0))
        return np.stack([f(g) for f in self.evals], axis=1)

    def valid(self, g: np.ndarray, limits: np.ndarray) -> np.ndarray:
        """Rows of g within their limits ([N, C], or [C] for every row), constraint by constraint."""
        out = np.ones(len(g), dtype=bool) if not self.evals else self.evals[0](g) <= limits[..., 0]
        for j in range(1, len(self.evals)):
            out &= self.evals[j](g) <= limits[..., j]
        return out

    def initial(self, P: int) -> tuple[np.ndarray, np.ndarray]:
        """P valid random archs per group (and their groups), drawn by rejection as the official search does."""
        K = len(self.limits)
        found: list[list[np.ndarray]] = [[] for _ in range(K)]
        need = np.full(K, P)
        for _ in range(30):
            cand = self.genome.sample(max(2 * K * P, 2048), self.g)
            v = self.values(cand)
            for k in np.flatnonzero(need):
                idx = np.flatnonzero(np.all(v <= self.limits[k], axis=1))[:need[k]]
                if len(idx):
                    found[k].append(cand[idx])
                    need[k] -= len(idx)
            if not need.any():
                break
        for k in np.flatnonzero(need):
            found[k].append(self._grow(found[k], int(k), int(need[k])))
        return np.concatenate([x for parts in found for x in parts]), np.repeat(np.arange(K), P)

    def _grow(self, parts, k: int, n: int) -> np.ndarray:
        """Fill a group random draws could not (a tight budget) by mutating the valid archs found,
        seeded with each constraint's cheapest arch."""
        gen, space = self.genome, self.genome.space
        res = gen.res.tolist()
        seeds = [smallest_value(c.model, space, res)[1] for c in self.constraints]
        seed_g = gen.from_batch(ArchBatch.from_archs(space, seeds + [space.smallest(r) for r in res]))
        pool = [seed_g[self.valid(seed_g, self.limits[k])]] + list(parts)
        if not sum(map(len, pool)):
            raise InfeasibleError("no subnet meets all constraints together (" + ", ".join(
                f"{c.name} ≤ {c.fmt(self.limits[k, j])}" for j, c in enumerate(self.constraints)) +
                "); each is reachable alone, but not at once: relax one of them")
        base = np.concatenate(pool)
        idx = self.g.integers(0, len(base), n)
        return self.children(base, idx, idx, n, np.full(n, k))

    def children(self, parents: np.ndarray, pa: np.ndarray, pb: np.ndarray, n_mut: int,
                 group: np.ndarray) -> np.ndarray:
        """One child per slot: slots [:n_mut] mutations of parents[pa], the rest crossovers of
        parents[pa] and parents[pb]; a child that breaks a constraint is re-drawn from the same
        parents. Slots still open after max_redraws rounds keep a copy of parent pa (which meets
        every constraint). Each round is a fixed handful of whole-array calls."""
        kids = parents[pa]
        still = np.ones(len(pa), dtype=bool)
        open_, k = np.arange(len(pa)), n_mut          # open slots, sorted; the first k are mutants
        lim = self.limits[0] if len(self.limits) == 1 else self.limits[group]
        per_slot = lim.ndim == 2
        share_m, share_c = self.valid_share
        for _ in range(self.config.max_redraws):
            # several i.i.d. tries per slot; a valid one wins: the same child distribution as
            # re-drawing one at a time, in far fewer rounds. Tries per slot follow the share of
            # valid children seen so far, for mutants and crossovers apart (here ~30 % and ~70 %).
            floor = max(1, TOP_UP // len(open_))
            t_m, t_c = open_[:k].repeat(_tries(share_m, floor)), open_[k:].repeat(_tries(share_c, floor))
            slots = np.concatenate((t_m, t_c))
            nm, nc = len(t_m), len(t_c)
            cand = self.genome.offspring(parents, pa[slots], pb[t_c], nm, self.g, self.mutation)
            good = self.valid(cand, lim[slots] if per_slot else lim)
            ok = good.nonzero()[0]             # (np.flatnonzero's wrapper costs more than the call here)
            g_m = int(np.count_nonzero(good[:nm]))
            if nm:
                share_m = 0.8 * share_m + 0.2 * g_m / nm
            if nc:
                share_c = 0.8 * share_c + 0.2 * (len(ok) - g_m) / nc
            # where a slot has several valid tries the last one assigned stays: which one is
            # chosen does not depend on the tries themselves, so it is a valid draw like any
            filled = slots[ok]
            kids[filled] = cand[ok]
            still[filled] = False
            open_ = still.nonzero()[0]
            if not len(open_):
                break
            k = int(np.searchsorted(open_, n_mut))
        self.valid_share = [share_m, share_c]
        return kids


def _tries(share: float, floor: int) -> int:
    """Tries per open slot for a kind of child that is valid with chance `share`: enough that a
    slot stays open with chance about MISS, at least `floor`, at most 64."""
    if share <= 0:
        return 64
    need = math.ceil(math.log(MISS) / math.log(max(1e-3, 1.0 - share)))
    return min(64, max(need, floor))
