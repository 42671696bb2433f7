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
