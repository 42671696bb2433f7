"""The search's index-matrix codec against ArchConfig, for every registered space."""
import numpy as np
import pytest

from ofa_deploy.registry import SUPERNETS, get_supernet_record
from ofa_deploy.search.genome import Genome


@pytest.mark.parametrize("name", SUPERNETS.names())
def test_genome_round_trips_and_knows_the_active_blocks(name):
    space = get_supernet_record(name).space
    gen = Genome(space, space.resolutions[:3])
    g = gen.sample(300, np.random.default_rng(7))
    batch = gen.to_batch(g)
    np.testing.assert_array_equal(gen.from_batch(batch), g)
    archs = batch.to_archs()
    act = gen.active(g)
    for row, arch in zip(act, archs):
        assert sorted(np.flatnonzero(row).tolist()) == sorted(arch.active_blocks(space))
    # archs that differ only in blocks they skip are one network: one key
    keys = gen.keys(g)
    masked = {(tuple(np.asarray(a.ks)[act[i]].tolist()) if space.n_ks else (), tuple(np.asarray(a.e)[act[i]].tolist()),
               a.d, a.r, a.w) for i, a in enumerate(archs)}
    assert len(set(keys)) == len(masked)


def test_mutation_and_crossover_draw_the_official_distributions():
    """One 32-bit draw per gene decides whether and to what a gene mutates: each gene changes with
    its probability, to a choice drawn uniformly; crossover takes each gene from either parent
    with chance 1/2; every child is a valid genome, and the same seed gives the same children."""
    space = get_supernet_record("ofa_mbv3_w1.2").space
    gen = Genome(space, space.resolutions)
    n = 20000
    zeros = np.zeros((n, gen.width), dtype=np.int8)
    thr = gen.mutation_thresholds(0.1, 0.5)
    kids = gen.mutate(zeros, np.random.default_rng(0), thr)
    assert (kids >= 0).all() and (kids < gen.n_choices).all()
    redrawn = 1 - 1 / gen.n_choices               # a re-drawn gene may land on its old value
    rate = (kids != 0).mean(axis=0) / redrawn
    np.testing.assert_allclose(rate[gen.e], 0.1, atol=0.01)
    np.testing.assert_allclose(rate[gen.r], 0.5, atol=0.02)
    changed = kids[:, gen.e][kids[:, gen.e] != 0]
    np.testing.assert_allclose(np.bincount(changed, minlength=3)[1:] / len(changed), 0.5, atol=0.02)
    np.testing.assert_array_equal(kids, gen.mutate(zeros, np.random.default_rng(0), thr))
    assert (gen.mutate(zeros, np.random.default_rng(1), gen.mutation_thresholds(0, 0)) == 0).all()
    everything = gen.mutate(zeros, np.random.default_rng(1), gen.mutation_thresholds(1, 1))
    np.testing.assert_allclose((everything != 0).mean(axis=0), redrawn, atol=0.02)
    ones = np.ones_like(zeros)
    child = gen.crossover(zeros, ones, np.random.default_rng(2))
    assert set(np.unique(child).tolist()) == {0, 1}
    np.testing.assert_allclose(child.mean(axis=0), 0.5, atol=0.02)
