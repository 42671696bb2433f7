"""The learned residual predictor: the search's fast path applies it exactly (it folds into the
per-op tables); the choice (one-SE pick on held-out folds, checked by nested cross-validation)
keeps the plain sum on structureless noise and a correction where there is structure, synthetic
and measured; too few nets refuse a model; it round-trips through the table file and the
per-host adaptation store."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ofa_deploy.arch import ArchBatch
from ofa_deploy.cost import is_additive
from ofa_deploy.latency import adapt as adapt_mod
from ofa_deploy.latency import load_latency_table
from ofa_deploy.latency.adapt import decide, pick_archs
from ofa_deploy.latency.format import TableFormatError, entry_ms
from ofa_deploy.arch import ArchConfig
from ofa_deploy.latency.evaluate import metrics
from ofa_deploy.latency.residual import (MIN_GAIN, MIN_GAIN_PP, RANK_TOL, Residual, all_features, candidates,
                                         choose, fit_model)
from ofa_deploy.latency.table import LatencyTable
from ofa_deploy.search.constraints import smallest_value
from ofa_deploy.search.genome import Genome

REPO = Path(__file__).resolve().parents[2]
TINY_ORT = REPO / "latency_tables" / "ofa_tiny_d123_e346_k357" / "onnxruntime-cpu"
W10_ORT = REPO / "latency_tables" / "ofa_mbv3_d234_e346_k357_w1.0" / "onnxruntime-cpu"


def plain(folder) -> LatencyTable:
    t = LatencyTable.load(folder)
    t.calibration = None
    return t


def by_hand(table: LatencyTable, arch, weights: dict) -> float:
    """The residual's prediction for one arch from its ops, without any table machinery."""
    spec, sp = table.spec, table.space
    ms = lambda op: entry_ms(table.entries[arch.r][op.key])
    blocks = [(i, spec.block_op(arch.r, i, arch.ks[i], arch.e[i])) for i in arch.active_blocks(sp)]
    ops = spec.arch_ops(arch)
    value = {"sum": sum(map(ms, ops)), "ops": len(ops), "one": 1.0,
             "macs": sum(op.macs for op in ops) / 1e6, "params": sum(op.params for op in ops) / 1e6}
    for s in range(sp.n_stages):
        value[f"stage{s}"] = sum(ms(op) for i, op in blocks if sp.block_stage[i] == s)
    for k in sp.ks_choices:
        value[f"k{k}"] = sum(ms(op) for i, op in blocks if arch.ks[i] == k)
    return sum(w * value[f] for f, w in weights.items())


@pytest.mark.parametrize("folder", [TINY_ORT, W10_ORT], ids=lambda p: p.parent.name)
@pytest.mark.parametrize("model", ["memory", "kernel", "memory+stage"])
def test_search_fast_path_applies_the_residual_exactly(folder, model):
    table = plain(folder)
    feats = candidates(table.space)[model]
    rng = np.random.default_rng(len(feats))
    weights = {f: float(w) for f, w in zip(feats, rng.uniform(0.2, 1.5, len(feats)))}
    table.calibration = Residual(model, weights, 30, 10.0, 5.0)
    assert is_additive(table, table.space)                 # so search gathers from the folded tables
    gen = Genome(table.space, table.resolutions)
    g = np.concatenate([gen.sample(3000, np.random.default_rng(1)),
                        gen.from_batch(ArchBatch.sample(table.space, 3000, 2, table.resolutions))])
    batch = gen.to_batch(g)
    fast, pred = gen.evaluator(table)(g), table.predict(batch)
    np.testing.assert_allclose(fast, pred, rtol=1e-12, atol=1e-9)
    assert not np.allclose(pred, table.op_sum(batch))       # the residual is really active
    for i, a in enumerate(batch.to_archs()[:40]):
        assert pred[i] == pytest.approx(by_hand(table, a, weights), rel=1e-9)
    lo, arch, exact = smallest_value(table, table.space, table.resolutions)
    assert exact and lo == pytest.approx(table.predict(arch), abs=1e-9) and lo <= fast.min() + 1e-9


def features_of(table, archs):
    return table.feature_values(archs, all_features(table.space))


def test_a_residual_effect_is_learned_and_kept_over_the_linear_model():
    table = plain(TINY_ORT)
    archs = pick_archs(table, 30, seed=0)
    v = features_of(table, archs)
    truth = 0.8 * v["sum"] + 0.002 * v["ops"] + 0.01 + 0.2 * v["params"]   # weights cold in cache cost extra
    corr, rep = choose(v, truth, table.space)
    assert rep["chosen"] == "memory" and corr.model == "memory"
    held = rep["candidates"]
    assert held["memory"]["held_out"]["mape"] < 0.95 * held["linear"]["held_out"]["mape"]
    fresh = ArchBatch.sample(table.space, 200, rng=5, resolutions=table.resolutions)
    fv = features_of(table, fresh)
    want = 0.8 * fv["sum"] + 0.002 * fv["ops"] + 0.01 + 0.2 * fv["params"]
    err = np.abs(corr.apply_features(fv) / want - 1)                     # on nets it never saw
    lin = fit_model("linear", v, truth, table.space)
    assert err.mean() < 0.01 and err.max() < 0.04 and err.mean() < 0.5 * np.abs(lin.apply_features(fv) / want - 1).mean()


@pytest.mark.parametrize("n", [30, 20])
def test_structureless_noise_keeps_the_plain_sum(n):
    """Measured = sum × structureless ±15 % noise, 40 seeds. Every fit beats the sum in-sample, and
    the best of five on the folds that also score it beat it by the margin 11 times in 40 (the
    rule before nested cross-validation); an honest score of the choice keeps the sum at least
    19 times in 20."""
    table = plain(TINY_ORT)
    archs = pick_archs(table, n, seed=0)
    v = features_of(table, archs)
    kept = []
    for seed in range(40):
        meas = v["sum"] * (1 + np.random.default_rng(seed).uniform(-0.15, 0.15, n))
        corr, rep = decide(table, archs, meas, seed=seed)
        assert rep["rule"] in rep["verdict"] and (corr is None) == (rep["chosen"] == "sum")
        if rep["chosen"] == "sum":
            assert not rep["accepted"] and "rejected" in rep["verdict"]
        else:                      # what was kept beat the sum on nets the whole choice never saw
            kept.append(seed)
            got, ref = rep["held_out_choice"], rep["held_out_sum_of_ops"]
            assert got["mape"] < (1 - MIN_GAIN) * ref["mape"] - MIN_GAIN_PP
            assert got["spearman"] >= ref["spearman"] - RANK_TOL
    assert len(kept) <= 2, f"a correction was kept on pure noise for seeds {kept}"


def test_a_noisy_memory_effect_is_still_kept():
    """Measured = a real MACs/weights effect (the sum is 16 % off) × ±5 % noise, 20 nets: the
    choice keeps a correction every time (the memory model nearly always), and what it keeps is
    far closer to the truth than the sum on fresh nets."""
    table = plain(TINY_ORT)
    archs = pick_archs(table, 20, seed=0)
    v = features_of(table, archs)
    fv = features_of(table, ArchBatch.sample(table.space, 300, rng=7, resolutions=table.resolutions))
    truth = lambda x: 0.8 * x["sum"] + 0.002 * x["ops"] + 0.01 + 0.2 * x["params"]
    sum_err = np.abs(fv["sum"] / truth(fv) - 1).mean()
    chosen = []
    for seed in range(20):
        meas = truth(v) * (1 + np.random.default_rng(seed).uniform(-0.05, 0.05, 20))
        corr, rep = decide(table, archs, meas, seed=seed)
        chosen.append(rep["chosen"])
        assert rep["accepted"] and rep["chosen"] == rep["picked"] and "kept" in rep["verdict"]
        assert rep["held_out_choice"]["mape"] < 0.5 * rep["held_out_sum_of_ops"]["mape"]
        assert np.abs(corr.apply_features(fv) / truth(fv) - 1).mean() < sum_err / 3
    assert chosen.count("memory") >= 15, chosen


WHOLE_NETS = Path(__file__).parent / "data" / "tiny_ort_whole_nets.json"   # from that table's build journals


def _whole_nets(table, which: str):
    rows = json.loads(WHOLE_NETS.read_text())[which]
    return [ArchConfig.coerce(json.loads(a), table.space) for a, _ in rows], np.array([ms for _, ms in rows])


def test_measured_structure_is_kept_and_holds_on_held_out_nets():
    """The shipped tiny ONNX Runtime table's own whole-net measurements: the choice made on its
    calibration nets keeps a correction, and on the 100 evaluation nets it never saw that
    correction cuts the sum's error by more than half without ranking worse."""
    table = plain(TINY_ORT)
    archs, meas = _whole_nets(table, "calibration")
    h_archs, h_meas = _whole_nets(table, "evaluation")
    assert len(archs) >= 20 and len(h_archs) >= 50
    corr, rep = decide(table, archs, meas, seed=0)
    assert rep["accepted"] and corr is not None
    table.calibration = corr
    got, ref = metrics(table.predict(h_archs), h_meas), metrics(table.op_sum(h_archs), h_meas)
    assert got["mape"] < 0.5 * ref["mape"] and got["spearman"] >= ref["spearman"] - 0.02


def test_too_few_nets_refuse_the_bigger_models():
    table = plain(W10_ORT)
    archs = pick_archs(table, 12, seed=0)
    v = features_of(table, archs)
    meas = 1.1 * v["sum"] + 0.3
    _, rep = choose(v, meas, table.space)
    c = rep["candidates"]
    assert c["linear"]["eligible"] and c["memory"]["eligible"] is False     # 5 parameters need 15 nets
    assert "needs 15 nets (3 × 5 parameters), got 12" in c["memory"]["note"]
    assert not c["memory+stage"]["eligible"] and rep["chosen"] == "linear"


def test_residual_round_trips_through_the_table_file(tmp_path):
    table = plain(TINY_ORT)
    table.calibration = Residual("memory", {"sum": 0.9, "ops": 0.001, "one": 0.02, "macs": 0.001, "params": 0.1},
                                 24, 12.0, 4.0)
    table.save(tmp_path / "t")
    again = LatencyTable.load(tmp_path / "t")
    assert again.calibration == table.calibration
    archs = ArchBatch.sample(table.space, 50, rng=0, resolutions=table.resolutions)
    np.testing.assert_array_equal(again.predict(archs), table.predict(archs))
    prov = json.loads((tmp_path / "t" / "provenance.json").read_text())
    prov["calibration"]["weights"]["macs"] = float("nan")
    (tmp_path / "t" / "provenance.json").write_text(json.dumps(prov))
    with pytest.raises(TableFormatError, match="calibration"):
        LatencyTable.load(tmp_path / "t")


def test_stored_adaptation_with_a_residual_applies_on_load(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path / "cache"))
    adapt_mod._warned.clear()
    folder = tmp_path / "table"
    shutil.copytree(TINY_ORT, folder)
    prov = json.loads((folder / "provenance.json").read_text())   # measured on this host
    (folder / "provenance.json").write_text(json.dumps({**prov, "fingerprint": adapt_mod.host_fingerprint()}))
    table = load_latency_table(folder)
    archs = pick_archs(plain(folder), 24, seed=0)
    v = features_of(table, archs)
    for a, ms in zip(archs, 0.8 * v["sum"] + 0.002 * v["ops"] + 0.01 + 0.2 * v["params"]):
        adapt_mod.record_measurement(table, a, float(ms), "onnxruntime")
    known, ms = adapt_mod.adaptation_data(table)
    assert len(known) == 24
    corr, rep = decide(table, known, ms)
    path, _ = adapt_mod._paths(table, adapt_mod.host_fingerprint()["id"])
    adapt_mod.atomic_write_json(path, {**rep, "calibration": corr.to_dict()})
    again = load_latency_table(folder)
    assert isinstance(again.calibration, Residual) and again.calibration.model == rep["chosen"]
    assert again.predict(archs[0]) == pytest.approx(corr.apply_features({k: x[:1] for k, x in v.items()})[0])
