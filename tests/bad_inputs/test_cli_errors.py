"""Bad input on the command line: exit 2, one clear line in the CLI's spelling (flags, not Python
parameters), no traceback (unless --verbose). Each test runs `ofa-deploy` as a subprocess."""
import time

import pytest

from tests.helpers.cli import bad, cli

TINY = "ofa_tiny_d123_e346_k357"


SEARCH = ("search", "--supernet", TINY, "--device", "onnxruntime-cpu")


@pytest.mark.parametrize("budget", ["nan", "abc", "-1", "0", "inf"])
def test_search_latency_budget_not_a_positive_number(budget):
    err = bad(*SEARCH, "--latency", budget)
    assert "--latency" in err and "latency=" not in err


def test_search_without_budget_names_latency_and_pareto_flags():
    err = bad(*SEARCH, needles=("--latency",))
    assert "latency=" not in err and "pareto=" not in err


def test_get_without_budget_does_not_offer_pareto():
    err = bad("get", "--supernet", TINY, "--device", "onnxruntime-cpu", needles=("--latency",))
    assert "pareto" not in err


@pytest.mark.parametrize("res,needle", [("26", "steps of 4"), ("0", "steps of 4"), ("28.7", "28.7")])
def test_search_resolution_off_the_grid(res, needle):
    bad(*SEARCH, "--latency", "1", "--resolutions", res, needles=("--resolutions", needle))


@pytest.mark.parametrize("flag,value", [("--population", "0"), ("--generations", "-1")])
def test_search_evolution_settings_out_of_range(flag, value):
    bad(*SEARCH, "--latency", "1", flag, value, needles=(flag,))


def test_search_estimated_device_outside_its_fitted_range_warns_and_records_it():
    r = cli("search", "--supernet", TINY, "--device", "cpu", "--latency", "5.5", "--no-cache", "--json")
    assert r.returncode == 0, r.stderr
    assert "warning: the estimated cpu latency model was fitted on" in r.stderr and "extrapolated" in r.stderr
    import json

    assert "extrapolated" in json.loads(r.stdout)["latency"]["warning"]


def test_search_latency_table_folder_missing(tmp_path):
    bad("search", "--supernet", TINY, "--latency-table", str(tmp_path / "none"), "--latency", "1",
        needles=("no such latency-table folder",))


def test_export_format_list_with_unknown_name_fails_before_exporting(tmp_path):
    t0 = time.perf_counter()
    err = bad("export", "missing-model.pth", "-f", "onnx,coreml,tf", "--out", str(tmp_path / "o"),
              needles=("'tf'", "did you mean 'tflite'"))
    assert "Kno…" not in err and time.perf_counter() - t0 < 60
    assert not (tmp_path / "o").exists()


def test_export_of_a_garbage_model_file(tmp_path):
    p = tmp_path / "m.pth"
    p.write_bytes(b"garbage" * 10)
    err = bad("export", str(p), "-f", "onnx", "--out", str(tmp_path / "o"), needles=(str(p),))
    assert "weights_only=False" not in err


def test_export_out_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    bad("export", "missing.pth", "-f", "onnx", "--out", str(tmp_path / "f" / "o"), needles=("is a file",))


def test_missing_model_file_exits_2(tmp_path):
    bad("export", str(tmp_path / "nope.pth"), "-f", "onnx", "--out", str(tmp_path / "o"),
        needles=("nope.pth",))


def test_verbose_keeps_the_traceback():
    r = cli("--verbose", *SEARCH, "--latency", "nan")
    assert r.returncode == 2 and "Traceback" in r.stderr and "--latency" in r.stderr
