"""`--json` on every verb: one JSON object on stdout whose `status` is one of the shared words
(ok / failed / skipped / estimated), logs and progress on stderr — also for `train`, the `lut`
verbs and a refused request. Every verb is run for real, as a subprocess, on the tiny space."""
import argparse
import json
import subprocess
import sys

import pytest

from ofa_deploy.cli import build_parser
from ofa_deploy.cli.common import STATUS

CLI = [sys.executable, "-m", "ofa_deploy.cli"]
ARCH = "r24-d122-k733533337-e664646333"


def document(*args, code=0):
    out = subprocess.run([*CLI, *map(str, args), "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == code, out.stderr[-3000:]
    doc = json.loads(out.stdout)                 # the whole of stdout is one document
    assert isinstance(doc, dict) and doc["status"] in STATUS and next(iter(doc)) == "status", doc
    return doc


def leaf_parsers(parser, path=()):
    """(verb path, parser) of every runnable verb and sub-verb."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from leaf_parsers(child, path + (name,))


def test_every_verb_takes_json_and_shows_its_defaults():
    leaves = dict(leaf_parsers(build_parser()))
    assert {("train",), ("lut", "build"), ("lut", "adapt"), ("demo",), ("predict",)} <= set(leaves)
    for path, parser in leaves.items():
        assert "--json" in parser._option_string_actions, path
        assert parser.formatter_class is argparse.ArgumentDefaultsHelpFormatter, path
    assert "(default: 30)" in leaves[("lut", "build")].format_help()


@pytest.mark.parametrize("args,key", [(("models", "*tiny*"), "models"), (("devices",), "devices"),
                                      (("backends",), "backends"), (("lut", "list", "*tiny*"), "tables"),
                                      (("lut", "show", "ofa_tiny_d123_e346_k357/onnxruntime-cpu"), "provenance")])
def test_listing_verbs(args, key):
    doc = document(*args)
    assert doc["status"] == "ok" and doc[key]


def test_search_predict_get_export_benchmark(tmp_path):
    assert document("search", "--supernet", "tiny", "--device", "ort", "--pareto", "0.15,0.2", "--generations",
                    "5", "--no-cache")["status"] == "ok"
    assert document("predict", "--supernet", "tiny", "--device", "ort", "--arch", ARCH)["status"] == "estimated"
    got = document("get", "--supernet", "tiny", "--device", "ort", "--arch", ARCH, "--out", tmp_path / "m")
    assert got["status"] == "ok" and got["arch"] == ARCH
    exp = document("export", tmp_path / "m" / "model.pth", "-f", "onnx,accel")
    assert exp["status"] == "ok" and [r["format"] for r in exp["exports"]] == ["onnx", "accel"]
    bench = document("benchmark", tmp_path / "m" / "model.pth", "--backends", "accel")
    assert bench["status"] == "estimated" and bench["results"][0]["status"] == "estimated"


def test_a_refused_request_is_a_failed_document_with_exit_2():
    doc = document("predict", "--supernet", "tiny", "--arch", ARCH[:-1], code=2)
    assert doc["status"] == "failed" and doc["exit_code"] == 2 and "e has" in doc["error"]


def test_train_as_json(tmp_path):
    doc = document("train", "--out", tmp_path / "t", "--epochs", "1,1,1,1,1,1", "--max-steps-per-epoch", "1",
                   "--val-images", "50", "--calib-images", "50", "--phase-eval", "-1", "--batch", "16",
                   "--threads", "1", "--resolutions", "24,28")
    assert doc["status"] == "ok" and doc["weights"].endswith("final.pth")
    assert [h["phase"] for h in doc["history"]][:2] == ["full", "kernel"] and len(doc["history"]) == 6


def test_lut_build_evaluate_adapt_as_json(tmp_path):
    timing = ("--runs", "3", "--warmup", "1", "--min-seconds", "0")
    table = tmp_path / "table"
    built = document("lut", "build", "--supernet", "tiny", "--backend", "onnxruntime", "--resolutions", "24",
                     "--calibrate", "0", "--out", table, *timing)
    assert built["status"] == "ok" and built["ops"] > 10 and built["resolutions"] == [24]
    ev = document("lut", "evaluate", table, "--backend", "onnxruntime", "-n", "3", "--searched", "0", *timing)
    assert ev["calibrated"]["n"] == 3 and (table / "evaluate.png").exists()
    ad = document("lut", "adapt", table, "--backend", "onnxruntime", "-n", "9", "--sessions", "1", *timing)
    assert ad["n_fit"] + ad["n_held_out"] == 9


def test_one_spelling_for_each_concept_and_text_lists():
    leaves = dict(leaf_parsers(build_parser()))
    other_spellings = {"--output", "--outdir", "--out-dir", "--output-dir", "--fmt", "--formats", "--num-runs",
                       "--n-runs", "--repeats", "--iters", "--calibration-data", "--calib", "--backend-list"}
    for path, parser in leaves.items():
        opts = set(parser._option_string_actions)
        assert not opts & other_spellings, (path, opts & other_spellings)
        if "--format" in opts:
            assert parser._option_string_actions["-f"] is parser._option_string_actions["--format"]
        for flag in {"--format", "--precision", "--backends", "--resolutions", "--pareto", "--epochs", "--lr",
                     "--serial"} & opts:   # read as text and split on commas (and spaces where nargs)
            assert parser._option_string_actions[flag].type in (None, str), (path, flag)
    for path in [("get",), ("export",), ("benchmark",), ("search",), ("demo",), ("train",), ("lut", "build"),
                 ("lut", "evaluate")]:
        assert "--out" in leaves[path]._option_string_actions, path
    for path in [("get",), ("export",), ("benchmark",)]:   # the same precision/calibration pair on each
        assert {"--precision", "--calib-data"} <= set(leaves[path]._option_string_actions), path
