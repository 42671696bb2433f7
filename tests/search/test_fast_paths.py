"""The search's fast paths (one table gather, features straight from genes) give exactly what the
reference predictors give, on many random archs of every registered space."""
from pathlib import Path

import numpy as np
import pytest
import torch

from ofa_deploy.accuracy.encoder import ArchEncoder
from ofa_deploy.accuracy.predictor import AccuracyPredictor, build_mlp
from ofa_deploy.arch import ArchBatch
from ofa_deploy.cost import AdditiveCost, is_additive
from ofa_deploy.latency.table import LatencyTable
from ofa_deploy.registry import SUPERNETS, get_supernet_record
from ofa_deploy.search.constraints import smallest_value
from ofa_deploy.search.genome import Genome

# every shipped table (a folder another helper is still building has no lookup files yet)
TABLES = sorted({p.parent for p in (Path(__file__).parents[2] / "latency_tables").glob("*/*/*_lookup_table.yaml")})
N = 3000


def _archs(space, resolutions, seed=3):
    """Random archs: uniform genes plus ArchBatch's own sampler (both as a genome matrix)."""
    gen = Genome(space, resolutions)
    g = np.concatenate([gen.sample(N, np.random.default_rng(seed)),
                        gen.from_batch(ArchBatch.sample(space, N, seed, list(resolutions)))])
    return gen, g, gen.to_batch(g)


@pytest.mark.parametrize("name", SUPERNETS.names())
def test_accuracy_fast_path_equals_the_predictor_on_encoded_archs(name):
    space = get_supernet_record(name).space
    enc = ArchEncoder.for_space(space)
    res = [r for r in space.resolutions if enc.resolution_range[0] <= r <= enc.resolution_range[1]]
    torch.manual_seed(0)
    pred = AccuracyPredictor(build_mlp(enc.n_features), enc, space)
    gen, g, batch = _archs(space, res)
    fast = gen.evaluator(pred)(g)
    with torch.no_grad():   # reference: the encoder's features through the torch MLP
        ref = pred.model(torch.from_numpy(enc.encode_batch(batch))).numpy()[:, 0]
    np.testing.assert_array_equal(fast, pred.predict(batch))
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-5)
    assert np.ptp(fast) > 0     # the archs differ, so the check has something to compare


@pytest.mark.parametrize("name", SUPERNETS.names())
def test_additive_fast_path_equals_the_per_op_sum(name):
    rec = get_supernet_record(name)
    spec, space = rec.spec, rec.space
    if hasattr(spec, "count"):      # widths depend on stage genes: not additive, so no fast path
        assert not is_additive(AdditiveCost(spec, lambda op, r: op.macs), space)
        return
    cost = AdditiveCost(spec, lambda op, r: float(op.macs))
    assert is_additive(cost, space)
    gen, g, batch = _archs(space, space.resolutions[::2])
    fast = gen.evaluator(cost)(g)
    ref = [sum(op.macs for op in spec.arch_ops(a)) for a in batch.to_archs()[:500]]
    np.testing.assert_array_equal(fast, cost.predict(batch))
    np.testing.assert_array_equal(fast[:500], ref)
    lo, arch, exact = smallest_value(cost, space, space.resolutions[::2])
    assert exact and lo == cost.predict(arch) and lo <= fast.min()


@pytest.mark.parametrize("folder", TABLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_latency_fast_path_equals_the_table_prediction(folder):
    table = LatencyTable.load(folder)
    assert is_additive(table, table.space)
    gen, g, batch = _archs(table.space, table.resolutions)
    fast = gen.evaluator(table)(g)
    np.testing.assert_allclose(fast, table.predict(batch), rtol=0, atol=1e-9)
    lo, arch, exact = smallest_value(table, table.space, table.resolutions)
    assert exact and abs(lo - table.predict(arch)) < 1e-9 and lo <= fast.min() + 1e-9


def test_a_model_over_other_choices_is_not_additive_for_a_space():
    tiny = get_supernet_record("ofa_tiny_d123_e346_k357")
    mbv3 = get_supernet_record("ofa_mbv3_d234_e346_k357_w1.0")
    cost = AdditiveCost(tiny.spec, lambda op, r: op.macs)
    assert is_additive(cost, tiny.space) and not is_additive(cost, mbv3.space)
    assert not is_additive(object(), tiny.space)
