"""The CLI's verbs and shared flags, run as real subprocesses: one spelling and --json everywhere,
`predict`, `get --arch`, numbered run folders, outputs beside the model, dry runs that say so,
`benchmark --data`, `lut list`, and listing verbs that never import torch."""
import json
import subprocess
import sys

import pytest

from ofa_deploy.arch import ArchBatch, ArchConfig
from ofa_deploy.registry import SUPERNETS

CLI = [sys.executable, "-m", "ofa_deploy.cli"]
ARCH = "r32-d122-k733533337-e664646333"


def run(*args, ok=True):
    out = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600)
    if ok:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.parametrize("verb", ["models", "devices", "backends"])
def test_listing_verbs_never_import_torch(verb):
    code = (f"import sys, io, contextlib\nfrom ofa_deploy.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    rc = main([{verb!r}, '--json'])\n"
            f"print(rc, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["0", "False"], out.stdout + out.stderr


def test_registry_lists_resolutions_without_the_spec():
    for rec in SUPERNETS.records():
        assert rec.spec.name == rec.name
        assert rec.resolution_range == (rec.space.min_resolution, rec.space.max_resolution)


@pytest.mark.parametrize("supernet", ["tiny", "ofa_mbv3_w1.0", "ofa_proxyless", "ofa_resnet50"])
def test_every_printed_arch_parses_back(supernet):
    space = SUPERNETS.get(supernet).space
    for arch in ArchBatch.sample(space, 40, 1).to_archs() + [space.smallest(), space.largest()]:
        assert ArchConfig.parse(arch.short()) == arch
        assert ArchConfig.coerce(arch.short(), space) == arch


def test_every_verb_has_json_and_shows_defaults():
    for verb in (["models"], ["devices"], ["backends"], ["get"], ["search"], ["predict"], ["export"],
                 ["benchmark"], ["demo"], ["lut", "list"], ["lut", "evaluate"], ["lut", "show"]):
        text = run(*verb, "--help").stdout
        assert "--json" in text, verb
    assert "(default: fp32)" in run("export", "--help").stdout
    assert "(default: 50)" in run("benchmark", "--help").stdout


def test_predict_one_arch_and_refuse_a_bad_one():
    out = json.loads(run("predict", "--arch", ARCH, "--supernet", "tiny", "--device", "onnxruntime-cpu",
                         "--json").stdout)
    assert out["status"] == "estimated" and out["arch"] == ARCH and out["latency_source"] == "measured"
    assert 0.5 < out["predicted_top1"] < 1 and 0 < out["predicted_latency_ms"] < 1 and out["macs"] > 1e6
    bad = run("predict", "--arch", ARCH[:-1], "--supernet", "tiny", ok=False)
    assert bad.returncode == 2 and "e has 8 values" in bad.stderr and "Traceback" not in bad.stderr
    bad = run("predict", "--arch", "r32-dxyz", "--supernet", "tiny", ok=False)
    assert bad.returncode == 2 and "short form" in bad.stderr


def test_get_arch_dry_run_numbered_runs_and_export_beside_the_model(tmp_path):
    out = tmp_path / "m"
    args = ("get", "--device", "onnxruntime-cpu", "--supernet", "tiny", "--arch", ARCH, "--no-pretrained",
            "--out", out, "--json")
    first = run(*args)
    got = json.loads(first.stdout)
    assert got["arch"] == ARCH and got["dry_run"] is True and got["status"] == "ok"
    assert got["predicted_latency_ms"] > 0 and "DRY RUN" in first.stderr
    card = json.loads((out / "card.json").read_text())     # the card says so too
    assert card["dry_run"] is True and card["weights"] == "random (dry run)"
    second = json.loads(run(*args).stdout)   # never overwrites the first run
    assert second["model"] == str(tmp_path / "m2" / "model.pth") and (out / "model.pth").exists()
    exp = json.loads(run("export", out / "model.pth", "-f", "onnx", "--precision", "fp32,int8",
                         "--calib-data", "fashion-mnist", "--json").stdout)["exports"]
    assert [(r["precision"], r["status"]) for r in exp] == [("fp32", "ok"), ("int8", "ok")]
    assert all(r["path"].startswith(str(out / "export")) and r["dry_run"] for r in exp)
    bench = run("benchmark", out / "model.pth", "--backends", "onnxruntime", "--runs", "3", "--warmup", "1")
    assert "DRY RUN" in bench.stdout and "Benchmark — DRY RUN" in bench.stdout   # log line and table title


def test_benchmark_scores_each_format_on_real_images(tmp_path):
    run("get", "--device", "onnxruntime-cpu", "--supernet", "tiny", "--arch", ARCH, "--out", tmp_path / "m")
    rows = json.loads(run("benchmark", tmp_path / "m" / "model.pth", "--backends", "onnxruntime,accel",
                          "--runs", "5", "--warmup", "1", "--data", "fashion-mnist", "--images", "200",
                          "--json").stdout)["results"]
    status = {r["backend"]: r["status"] for r in rows}
    assert status == {"onnxruntime": "ok", "accel": "estimated"}
    ort = next(r for r in rows if r["backend"] == "onnxruntime")
    assert ort["data_top1"] > 0.8 and ort["artifact"].startswith(str(tmp_path / "m" / "benchmark"))


def test_lut_list_shows_coverage():
    rows = json.loads(run("lut", "list", "*tiny*", "--json").stdout)["tables"]
    by = {r["device"]: r for r in rows}
    assert {"onnxruntime-cpu", "openvino-cpu", "litert-cpu"} <= set(by)
    ort = by["onnxruntime-cpu"]
    assert ort["resolutions"] == [24, 28, 32] and 0 < ort["min_ms"] < ort["max_ms"] and ort["host"]


def test_comma_lists_and_bad_numbers():
    res = json.loads(run("search", "--supernet", "tiny", "--device", "onnxruntime-cpu", "--pareto", "0.15,0.2",
                         "--generations", "20", "--no-cache", "--json").stdout)
    assert [p["limits"]["latency"] for p in res["points"]] == [0.15, 0.2]
    bad = run("search", "--supernet", "tiny", "--device", "ort", "--latency", "0.2", "--resolutions", "28,x",
              ok=False)
    assert bad.returncode == 2 and "--resolutions" in bad.stderr


def test_short_reprs_and_a_front_that_iterates():
    from ofa_deploy.deploy.base import Artifact
    from ofa_deploy.search import EvolutionConfig, search

    front = search("tiny", device="onnxruntime-cpu", pareto=[0.15, 0.2], accuracy_predictor="macs",
                   config=EvolutionConfig(population=20, generations=5), cache=False, progress=False)
    assert [p.limits["latency"] for p in front] == [0.15, 0.2] and len(front) == 2 and front[0] is front.points[0]
    assert repr(front).startswith("ParetoResult(2 points") and len(repr(front)) < 120
    assert repr(front[0]).startswith("SearchResult(ofa_tiny") and len(repr(front[0])) < 300
    art = Artifact("x.onnx", "onnxruntime", "onnx", card={"big": "x" * 1000})
    assert repr(art) == "Artifact('x.onnx', backend='onnxruntime', format='onnx', precision='fp32', input_shape=())"


def test_a_proxy_score_says_it_is_one():
    out = json.loads(run("predict", "--arch", ARCH, "--supernet", "tiny", "--accuracy-predictor", "macs",
                         "--json").stdout)
    assert out["predicted_top1_is_proxy"] is True and "not a top-1" in out["accuracy_note"]
    text = run("search", "--supernet", "tiny", "--device", "ort", "--pareto", "0.15,0.2", "--accuracy-predictor",
               "macs", "--generations", "5", "--no-cache").stdout
    assert "proxy score" in text


def test_a_second_plot_gets_a_numbered_name(tmp_path):
    args = ("search", "--supernet", "tiny", "--device", "ort", "--pareto", "0.15,0.2", "--generations", "5",
            "--plot", tmp_path / "front.png", "--json")
    first, second = (json.loads(run(*args).stdout)["plot"] for _ in range(2))
    assert (first, second) == (str(tmp_path / "front.png"), str(tmp_path / "front2.png"))
    assert (tmp_path / "front.png").exists() and (tmp_path / "front2.png").exists()


def test_benchmark_default_is_what_measures_here_and_accel_is_marked():
    from ofa_deploy.deploy.benchmark import default_backends

    listed = {b["name"]: b for b in json.loads(run("backends", "--json").stdout)["backends"]}
    assert listed["accel"]["measures"] == "estimate"
    assert listed["coreml"]["measures"] == ("here" if sys.platform == "darwin" else "macOS only")
    default = default_backends()
    assert "accel" not in default and {"onnxruntime", "openvino", "tflite"} <= set(default)
    assert all(listed[n]["measures"] == "here" and listed[n]["available"] for n in default)
    assert "estimate only" in run("backends").stdout
