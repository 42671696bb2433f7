"""ArchConfig and SearchSpace: validation, sampling, evolution helpers, round trips."""
import json

import numpy as np
import pytest

from ofa_deploy.arch import ArchBatch, ArchConfig, make_divisible
from ofa_deploy.errors import ArchError
from ofa_deploy.supernets.mbv3 import TINY, W10

SPACE = W10.space


def test_make_divisible_matches_official_widths():
    assert [make_divisible(w * 1.2, 8) for w in (16, 16, 24, 40, 80, 112, 160, 960, 1280)] == \
        [24, 24, 32, 48, 96, 136, 192, 1152, 1536]
    assert make_divisible(18, 8) == 24  # never more than 10 % below the request


def test_sample_is_valid_and_deterministic():
    a = SPACE.sample(rng=7)
    assert a == SPACE.sample(rng=7)
    a.validate(SPACE)
    assert len(a.ks) == 20 and len(a.e) == 20 and len(a.d) == 5 and a.r in SPACE.resolutions


@pytest.mark.parametrize("bad, words", [
    (dict(ks=(3,) * 19), ["ks has 19 values", "expected 20"]),
    (dict(e=(3,) * 19 + (5,)), ["e[19] = 5", "[3, 4, 6]"]),
    (dict(d=(2, 3, 4, 4, 1)), ["d[4] = 1", "[2, 3, 4]"]),
    (dict(r=225), ["resolution 225", "128..260"]),
])
def test_validation_names_the_problem(bad, words):
    base = SPACE.largest().to_dict()
    base.update({k: list(v) if isinstance(v, tuple) else v for k, v in bad.items()})
    with pytest.raises(ArchError) as err:
        ArchConfig.from_dict(base).validate(SPACE)
    for w in words:
        assert w in str(err.value)


def test_json_and_official_round_trip():
    a = SPACE.sample(rng=1)
    assert ArchConfig.from_json(a.to_json()) == a
    off = a.to_official()
    assert off["r"] == [a.r] and set(off) == {"ks", "e", "d", "r"}
    assert ArchConfig.from_dict(off) == a
    assert ArchConfig.from_dict(json.loads(json.dumps({"ks": off["ks"], "e": off["e"], "d": off["d"]})),
                                r=160).r == 160
    with pytest.raises(ArchError, match="no resolution"):
        ArchConfig.from_dict({"ks": off["ks"], "e": off["e"], "d": off["d"]})


def test_active_blocks_and_mask_agree():
    batch = ArchBatch.sample(SPACE, 200, rng=0)
    mask = batch.active_mask()
    for arch, row in zip(batch.to_archs(), mask):
        assert np.flatnonzero(row).tolist() == arch.active_blocks(SPACE)
        assert row.sum() == sum(arch.d)


def test_canonical_ignores_skipped_blocks():
    a = SPACE.sample(rng=3)
    d = (2,) * 5
    x = ArchConfig(a.ks, a.e, d, a.r)
    ks2 = list(a.ks)
    ks2[3] = 7 if ks2[3] != 7 else 5  # block 3 is skipped at depth 2
    y = ArchConfig(tuple(ks2), a.e, d, a.r)
    assert x != y and x.canonical(SPACE) == y.canonical(SPACE)


def test_mutation_rate_and_crossover_genes():
    batch = ArchBatch.sample(SPACE, 2000, rng=0)
    mutated = batch.mutate(rng=1, prob=0.1, r_prob=0.5)
    changed = (mutated.ks != batch.ks).mean()
    assert 0.04 < changed < 0.09  # resampled with p=0.1, and 2/3 of resamples change the value
    for a in mutated.to_archs()[:50]:
        a.validate(SPACE)
    other = ArchBatch.sample(SPACE, 2000, rng=2)
    child = batch.crossover(other, rng=3)
    assert np.all((child.ks == batch.ks) | (child.ks == other.ks))
    assert 0.4 < (child.e == batch.e).mean() < 0.9


def test_single_arch_helpers_stay_in_space():
    a = TINY.space.sample(rng=0)
    b = TINY.space.sample(rng=1)
    a.mutate(TINY.space, rng=2, prob=1.0).validate(TINY.space)
    a.crossover(b, TINY.space, rng=3).validate(TINY.space)
    assert TINY.space.largest().r == 32 and TINY.space.smallest().d == (1, 1, 1)
