"""The table builder with the real ONNX Runtime backend: resume after a kill, evaluation report."""
import json
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ofa_deploy.arch import ArchBatch
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.latency import LatencyTable
from ofa_deploy.latency.builder import build_table
from ofa_deploy.latency.evaluate import evaluate_table, kendall, spearman
from ofa_deploy.latency.measure import is_noisy
from ofa_deploy.supernets.mbv3 import TINY

FAST = ["--runs", "5", "--warmup", "1", "--min-seconds", "0"]


def journal_ids(folder):
    ids = []
    for line in (folder / "journal.jsonl").read_text().splitlines():
        try:
            ids.append(json.loads(line)["id"])
        except json.JSONDecodeError:
            pass  # the line the kill tore
    return ids


def test_build_resumes_after_kill_without_remeasuring(tmp_path):
    out = tmp_path / "lut"
    cmd = [sys.executable, "-m", "ofa_deploy.cli", "lut", "build", "--supernet", "tiny", "--backend", "onnxruntime",
           "--resolutions", "28", "--calibrate", "9", "--out", str(out), *FAST]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop_at = random.Random().randint(3, 45)
    deadline = time.time() + 240
    while time.time() < deadline:
        if (out / "journal.jsonl").exists() and len(journal_ids(out)) >= stop_at:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = journal_ids(out)
    assert 0 < len(before) < 69 and not (out / "provenance.json").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ids = journal_ids(out)
    assert ids[: len(before)] == before            # nothing lost
    assert len(set(ids)) == 60 + 9                 # 60 ops + 9 calibration nets
    recs = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines() if line.endswith("}")]
    first = {}
    for rec in recs:                               # nothing measured twice, unless its first timing was disturbed
        if rec["id"] in first:
            assert is_noisy(first[rec["id"]]["entry"]["median"], first[rec["id"]]["entry"]["min"])
        first.setdefault(rec["id"], rec)
    table = LatencyTable.load(out)
    prov = json.loads((out / "provenance.json").read_text())
    check = prov["calibration_check"]            # fitted on 6, scored on 3 held-out nets
    assert len(table.entries[28]) == 60 and check["n_fit"] + check["n_held_out"] == 9
    assert (table.calibration is not None) == check["accepted"]
    assert prov["fingerprint"]["id"] and "fresh-session" in prov["method"]
    assert prov["backend"] == "onnxruntime" and prov["settings"]["runs"] == 5 and prov["runtime_version"]
    latest = {rec["id"]: rec["seconds"] for rec in recs}   # the time of both runs, not the last one only
    spent = prov["measure_seconds_all_runs"]
    assert spent["ops"] == pytest.approx(sum(v for k, v in latest.items() if not k.startswith("net|")), abs=0.2)
    assert spent["nets"] == pytest.approx(sum(v for k, v in latest.items() if k.startswith("net|")), abs=0.2)
    assert spent["ops"] > 0 and spent["nets"] > 0


def test_build_and_evaluate_report(tmp_path):
    s = MeasureSettings(warmup=2, runs=10)
    table = build_table("tiny", "onnxruntime", tmp_path, resolutions=[24], settings=s, calibrate=9)
    report = evaluate_table(table, tmp_path, "onnxruntime", n=12, settings=s)
    for key in ("within_5pct", "within_10pct", "mape", "rmse_ms", "spearman", "kendall"):
        assert np.isfinite(report["calibrated"][key])
    assert (tmp_path / "evaluate.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "evaluate.json").read_text())["calibrated"]["n"] == 12
    batch = ArchBatch.sample(TINY.space, 500, rng=3, resolutions=(24,))
    assert np.all(table.predict(batch) > 0)


def test_resume_retimes_entries_a_busy_core_disturbed(tmp_path):
    s = MeasureSettings(warmup=2, runs=10)
    build_table("tiny", "onnxruntime", tmp_path, resolutions=[24], settings=s, calibrate=0)
    journal = tmp_path / "journal.jsonl"
    recs = [json.loads(line) for line in journal.read_text().splitlines()]
    victim = next(r for r in recs if r["id"].startswith("24|expanded_conv"))
    victim["entry"] = dict(victim["entry"], median=50 * victim["entry"]["min"], mean=50 * victim["entry"]["min"])
    with open(journal, "a") as f:                  # as if a burst of other work hit this op's window
        f.write(json.dumps(victim) + "\n")
    table = build_table("tiny", "onnxruntime", tmp_path, resolutions=[24], settings=s, calibrate=0)
    calm_misses = {r["id"] for r in recs if "entry" in r and is_noisy(r["entry"]["median"], r["entry"]["min"])}
    ids = journal_ids(tmp_path)
    assert ids.count(victim["id"]) == 3            # first timing, the disturbed copy, the new timing
    assert set(ids[len(recs) + 1:]) == {victim["id"]} | calm_misses   # nothing else was timed again
    assert table.entries[24][victim["key"]]["median"] < 50 * victim["entry"]["min"]


def test_rank_correlations_against_known_values():
    a = np.array([1, 2, 3, 4, 5.0])
    assert abs(spearman(a, a) - 1) < 1e-12 and kendall(a, -a) == -1.0
    assert abs(kendall(a, np.array([1, 3, 2, 4, 5.0])) - 0.8) < 1e-12


def test_a_whole_net_is_the_median_of_fresh_session_medians(monkeypatch):
    import torch

    from ofa_deploy.latency.measure import NET_WINDOWS, Measurer

    m = Measurer("onnxruntime", MeasureSettings(threads=1, warmup=1, runs=5, min_seconds=0))
    seen, real = [], m.backend.measure

    def counted(art, settings):          # the real ONNX Runtime timing, recorded
        seen.append(real(art, settings))
        return seen[-1]

    monkeypatch.setattr(m.backend, "measure", counted)   # the backend is a shared instance
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3))
    best = m.module(net, (1, 1, 28, 28), "net", windows=NET_WINDOWS)
    assert len(seen) == NET_WINDOWS >= 3              # one fresh session each
    assert best.median == pytest.approx(float(np.median([s.median for s in seen])))
    assert best.settings["sessions"] == NET_WINDOWS and "fresh-session medians" in best.settings["method"]
    assert best.settings["spread"] == pytest.approx((max(x.median for x in seen) - min(x.median for x in seen))
                                                    / best.median, abs=1e-4)
    seen.clear()
    m.module(net, (1, 1, 28, 28), "op")
    assert len(seen) == 1                             # an op: one session


@pytest.mark.parametrize("backend", ["executorch", "tflite"])
def test_batched_conversion_matches_the_single_op_models(backend, tmp_path):
    """A batched backend converts several ops into one file (one method/signature each); each gives
    the single-op model's outputs and is timed alone by the same method and settings."""
    import torch

    from ofa_deploy.latency.builder import unique_ops
    from ofa_deploy.latency.measure import Measurer, _op_module

    ops = [op for _, op in unique_ops("tiny", [24])][:2]     # the stem conv and the first block op
    s = MeasureSettings(threads=1, warmup=2, runs=10, min_seconds=0)
    m = Measurer(backend, s)
    assert m.batch > 1 and Measurer(backend, s.with_options(serial="X")).batch == 0   # adb: one model per file
    pairs = [(mod.eval(), torch.randn(shape, generator=torch.Generator().manual_seed(0)))
             for mod, shape in map(_op_module, ops)]
    batched = m.backend.export_batch(pairs, tmp_path / "b", name="ops")
    assert len({a.path for a in batched}) == 1 and len(batched) == len(ops)
    for i, ((mod, x), art) in enumerate(zip(pairs, batched)):
        single = m.backend.export(mod, x, tmp_path / f"s{i}", name="op")
        y, ref = m.backend.run(art, x.numpy()), m.backend.run(single, x.numpy())
        assert y.shape == ref.shape and np.abs(y - ref).max() <= 1e-6
        assert np.abs(y - mod(x).detach().numpy()).max() <= 1e-4
    stats = list(m.ops(ops))
    assert len(stats) == len(ops)
    for st in stats:
        assert st.count >= 10 and st.median > 0 and st.settings["sessions"] == 1
        assert st.settings["runs"] == 10 and "fresh-session medians" in st.settings["method"]


def test_a_backend_without_batched_export_converts_one_op_at_a_time():
    from ofa_deploy.latency.measure import Measurer

    assert Measurer("onnxruntime", MeasureSettings()).batch == 0
