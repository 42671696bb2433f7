"""Constrained evolutionary search: limits always met, infeasible requests explained, Pareto
fronts monotone and drawn, results deterministic and cached, user-supplied models accepted."""
import numpy as np
import pytest
import torch

from ofa_deploy.accuracy import AccuracyPredictor, ArchEncoder, build_mlp
from ofa_deploy.arch import ArchBatch
from ofa_deploy.errors import InfeasibleError
from ofa_deploy.latency import predictor_for_device
from ofa_deploy.profile import count_macs, count_params
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.search import EvolutionConfig, search

W12 = get_supernet_record("ofa_mbv3_w1.2")
TINY = get_supernet_record("tiny")
FAST = EvolutionConfig(population=60, generations=40)


def random_predictor(record, seed=0):
    torch.manual_seed(seed)
    enc = ArchEncoder.for_space(record.space)
    return AccuracyPredictor(build_mlp(enc.n_features), enc, record.space, record.name)


@pytest.fixture(scope="module")
def w12_predictor():
    return random_predictor(W12)


@pytest.mark.parametrize("seed", range(8))
def test_every_result_meets_every_limit(seed, w12_predictor):
    budget = [18.0, 22.0, 25.0, 30.0][seed % 4]
    macs = [250e6, 400e6][seed % 2]
    res = search("ofa_mbv3_w1.2", device="note10", latency=budget, macs=macs, params=8e6,
                 accuracy_predictor=w12_predictor, config=FAST, seed=seed, progress=False)
    lat = predictor_for_device("note10", W12.name).predict(res.arch)
    assert lat <= budget + 1e-9 and res.values["latency"] == pytest.approx(lat)
    assert count_macs(W12.name, res.arch) <= macs and count_params(W12.name, res.arch) <= 8e6
    res.arch.validate(W12.space)


def test_search_beats_random_sampling(w12_predictor):
    res = search("ofa_mbv3_w1.2", device="note10", latency=25, accuracy_predictor=w12_predictor,
                 config=EvolutionConfig(generations=150), progress=False)
    pool = ArchBatch.sample(W12.space, 3000, rng=1)
    lat = predictor_for_device("note10", W12.name).predict(pool)
    best_random = w12_predictor.predict(pool)[lat <= 25].max()
    assert res.score >= best_random


def test_infeasible_latency_names_the_smallest_achievable(w12_predictor):
    table = predictor_for_device("pixel1", W12.name)
    with pytest.raises(InfeasibleError) as exc:
        search("ofa_mbv3_w1.2", device="pixel1", latency=1.0, accuracy_predictor=w12_predictor, progress=False)
    smallest = exc.value.smallest
    assert "infeasible" in str(exc.value) and f"{smallest:.2f} ms" in str(exc.value)
    smallest_archs = ArchBatch.from_archs(W12.space, [W12.space.smallest(r) for r in W12.space.resolutions])
    assert smallest <= table.predict(smallest_archs).min() + 1e-9
    # just above it is feasible and returns an arch at or under the limit
    res = search("ofa_mbv3_w1.2", device="pixel1", latency=smallest * 1.02, accuracy_predictor=w12_predictor,
                 config=FAST, progress=False)
    assert res.values["latency"] <= smallest * 1.02


def test_infeasible_macs_on_an_additive_model_is_exact():
    with pytest.raises(InfeasibleError) as exc:
        search("tiny", macs=1e5, accuracy_predictor="macs", progress=False)
    floor = min(count_macs(TINY.name, TINY.space.smallest(r)) for r in TINY.space.resolutions)
    assert exc.value.smallest == pytest.approx(floor)


def test_pareto_front_is_monotone_deterministic_and_plotted(tmp_path, w12_predictor):
    budgets = [15, 20, 25, 35, 50]
    kw = dict(device="note10", pareto=budgets, accuracy_predictor=w12_predictor, config=FAST, seed=3, progress=False)
    front = search("ofa_mbv3_w1.2", plot=tmp_path / "front.png", **kw)
    scores = [p.score for p in front.points]
    assert all(b >= a for a, b in zip(scores, scores[1:])), scores
    assert all(p.values["latency"] <= b for p, b in zip(front.points, budgets))
    assert (tmp_path / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = search("ofa_mbv3_w1.2", **kw)
    assert [p.arch for p in again.points] == [p.arch for p in front.points]


def test_cache_returns_the_stored_result(tmp_path, w12_predictor):
    kw = dict(device="note10", latency=25, accuracy_predictor=w12_predictor, config=FAST, progress=False,
              cache=True, cache_dir=tmp_path)
    first = search("ofa_mbv3_w1.2", **kw)
    files = list((tmp_path / "searches").glob("*.json"))
    assert len(files) == 1
    second = search("ofa_mbv3_w1.2", **kw)
    assert second.arch == first.arch and second.cache_key == first.cache_key
    other = search("ofa_mbv3_w1.2", **{**kw, "latency": 30})
    assert other.cache_key != first.cache_key


def test_user_objects_and_table_folders(tmp_path):
    class Linear:
        """A user's own latency model: 1 ms per 10M MACs."""
        def predict(self, archs):
            return np.asarray(count_macs(TINY.name, archs)) / 1e7

    res = search("tiny", latency_table=Linear(), latency=0.3, accuracy_predictor=random_predictor(TINY),
                 config=FAST, progress=False)
    assert count_macs(TINY.name, res.arch) / 1e7 <= 0.3
    assert res.latency["source"] == "user"
