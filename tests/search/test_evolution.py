"""The evolution's building blocks against plain reference code: parent selection (best distinct
networks first), the score cache (one score per network), and child-making (mutants and
crossovers in one array, every child within its limit, the official per-gene rates)."""
import numpy as np
import pytest

from ofa_deploy.profile import _models
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.search.constraints import Constraint
from ofa_deploy.search.evolution import EvolutionConfig, ScoreCache, _Run, _top_per_group
from ofa_deploy.search.genome import Genome

W12 = get_supernet_record("ofa_mbv3_w1.2")


def reference_top(score, ids, group, K, n, unique):
    """Per group, best first; with `unique`, the first copy of each network before all other copies."""
    out = []
    for k in range(K):
        rows = [i for i in range(len(score)) if group[i] == k]
        seen, first, rest = set(), [], []
        for i in sorted(rows, key=lambda i: (-score[i], ids[i], i)):
            (rest if unique and ids[i] in seen else first).append(i)
            seen.add(ids[i])
        out += (first + rest)[:n]
    return out


@pytest.mark.parametrize("K,n_ids", [(1, 200), (1, 12), (3, 200), (3, 30)])
def test_parents_are_the_best_distinct_networks_of_each_group(K, n_ids):
    rng = np.random.default_rng(K * n_ids)
    for _ in range(20):
        ids = rng.integers(0, n_ids, 125 * K)
        net_score = rng.random(n_ids)                   # one score per network, as the cache gives
        group = rng.permutation(np.repeat(np.arange(K), 125))
        for unique in (True, False):
            got = _top_per_group(net_score[ids], ids, group, K, 25, unique)
            want = reference_top(net_score[ids], ids, group, K, 25, unique)
            if unique:
                assert got.tolist() == want
            else:   # without `unique`, ties between copies may come in any order: compare scores
                np.testing.assert_array_equal(net_score[ids][got], net_score[ids][want])


def test_score_cache_scores_each_network_once():
    gen = Genome(W12.space, W12.space.resolutions[:2])
    calls = []

    def net_score(g):       # of genes every network runs (the resolution, block 0's kernel)
        return g[:, gen.r.start] * 10.0 + g[:, 0]

    cache = ScoreCache(gen, lambda g: calls.append(len(g)) or net_score(g))
    g = gen.sample(50, np.random.default_rng(0))
    g2 = np.concatenate([g[10:30], gen.sample(10, np.random.default_rng(1)), g[:5]])
    s1, id1 = cache(g)
    s2, id2 = cache(g2)
    np.testing.assert_array_equal(s1, net_score(g))
    np.testing.assert_array_equal(s2, net_score(g2))
    np.testing.assert_array_equal(id2[:20], id1[10:30])
    np.testing.assert_array_equal(id2[-5:], id1[:5])
    assert calls == [len(set(id1.tolist())), len(set(id2.tolist()) - set(id1.tolist()))]
    assert cache.scored == len(set(id1.tolist()) | set(id2.tolist())) and cache.hits == len(g) + len(g2) - cache.scored


def test_children_meet_their_limits_and_come_from_their_parents():
    gen = Genome(W12.space, W12.space.resolutions)
    macs = Constraint("macs", _models(W12.name)[0], 0.0)
    limits = np.array([[300e6], [450e6]])
    run = _Run(gen, [macs], limits, EvolutionConfig(), np.random.default_rng(4))
    pop, group = run.initial(25)
    n_mut, slots = 60, 120
    slot_group = np.concatenate([np.repeat([0, 1], n_mut // 2), np.repeat([0, 1], (slots - n_mut) // 2)])
    pa = slot_group * 25 + run.g.integers(0, 25, slots)
    pb = slot_group * 25 + run.g.integers(0, 25, slots)
    kids = run.children(pop, pa, pb, n_mut, slot_group)
    vals = run.values(kids)[:, 0]
    assert (vals <= limits[slot_group, 0]).all()
    cross = kids[n_mut:]
    from_a, from_b = cross == pop[pa[n_mut:]], cross == pop[pb[n_mut:]]
    assert (from_a | from_b).all()                          # every crossover gene is a parent's
    changed = (kids[:n_mut] != pop[pa[:n_mut]]).mean()
    assert 0 < changed < 0.3                                 # mutants: a few genes off their parent


def test_offspring_puts_mutants_first_then_crossovers():
    gen = Genome(W12.space, W12.space.resolutions)
    zeros, ones = np.zeros((1, gen.width), np.int8), np.ones((1, gen.width), np.int8)
    parents = np.concatenate([zeros, ones])
    n = 4000
    ia = np.concatenate([np.zeros(n, int), np.zeros(n, int)])
    mut = gen.mutation_thresholds(0.1, 0.5)
    kids = gen.offspring(parents, ia, np.ones(n, int), n, np.random.default_rng(3), mut)
    redrawn = 1 - 1 / gen.n_choices
    np.testing.assert_allclose(((kids[:n] != 0).mean(axis=0) / redrawn)[gen.e], 0.1, atol=0.015)
    assert set(np.unique(kids[n:]).tolist()) == {0, 1}
    np.testing.assert_allclose(kids[n:].mean(), 0.5, atol=0.01)
    np.testing.assert_array_equal(kids, gen.offspring(parents, ia, np.ones(n, int), n, np.random.default_rng(3), mut))
