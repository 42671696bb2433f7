"""Broken latency-table folders and files: each refused at load, naming the file, the key and the
right line; a search/predict never sees a bad number."""
import json
import shutil
import time
from pathlib import Path

import pytest

from ofa_deploy.latency import load_latency_table
from ofa_deploy.latency.format import TableFormatError, entry_ms, read_table_file

SRC = Path(__file__).resolve().parents[2] / "latency_tables/ofa_tiny_d123_e346_k357/onnxruntime-cpu"


@pytest.fixture
def table_dir(tmp_path):
    dst = tmp_path / "table"
    shutil.copytree(SRC, dst)
    return dst


def _edit(folder, fn, name="24_lookup_table.yaml"):
    f = folder / name
    f.write_text(fn(f.read_text()))
    return f


def _first_key_line(text, n=0):
    keys = [i for i, line in enumerate(text.splitlines(), 1) if not line.startswith(" ")]
    return keys[n]


def _refused(folder, *needles):
    with pytest.raises(TableFormatError) as err:
        load_latency_table(str(folder))
    msg = str(err.value)
    for n in needles:
        assert n in msg, msg
    return msg


def test_last_entry_cut_to_mean_zero(table_dir):
    f = _edit(table_dir, lambda s: s.rstrip("\n").rsplit("\n", 4)[0].rsplit("mean:", 1)[0] + "mean: 0.0\n")
    lines = f.read_text().splitlines()
    key_line = max(i for i, line in enumerate(lines, 1) if not line.startswith(" "))
    _refused(table_dir, str(f), f"line {key_line}:", "mean 0 ms")


def test_median_zero_is_refused(table_dir):
    _edit(table_dir, lambda s: s.replace("median: ", "median: 0 #", 1))
    _refused(table_dir, "line 1:", "median 0 ms")


@pytest.mark.parametrize("value", [".inf", ".nan", "-5", "abc", "[1, 2]"])
def test_mean_that_is_not_a_finite_positive_number(table_dir, value):
    _edit(table_dir, lambda s: s.replace("  mean: ", f"  mean: {value} #", 1))
    _refused(table_dir, "24_lookup_table.yaml", "line 1:", "mean")


@pytest.mark.parametrize("value", [".inf", "-5"])
def test_median_that_is_not_a_finite_positive_number(table_dir, value):
    _edit(table_dir, lambda s: s.replace("  median: ", f"  median: {value} #", 1))
    _refused(table_dir, "line 1:", "median")


def test_duplicate_key_names_both_lines(table_dir):
    def dup(s):
        lines = s.splitlines()
        return s + "\n".join(lines[:6]) + "\n"
    f = _edit(table_dir, dup)
    n_before = len(SRC.joinpath("24_lookup_table.yaml").read_text().splitlines())
    _refused(table_dir, str(f), f"line {n_before + 1}:", "duplicate key", "first at line 1")


def test_duplicate_key_deep_in_the_file_has_the_right_line(table_dir):
    text = (SRC / "24_lookup_table.yaml").read_text()
    lines = text.splitlines()
    k = _first_key_line(text, 5)
    block = "\n".join(lines[k - 1:k + 5])
    f = _edit(table_dir, lambda s: block + "\n" + s)
    assert f.read_text().splitlines()[0] == lines[k - 1]
    _refused(table_dir, f"line {k + 6}:", "first at line 1")


def test_half_truncated_yaml_is_refused_at_load_naming_the_file(table_dir):
    f = _edit(table_dir, lambda s: s[: len(s) // 2])
    _refused(table_dir, str(f))


def test_invalid_yaml_line_number_is_not_off_by_one(table_dir):
    f = _edit(table_dir, lambda s: "a: [1, 2\n" + s)
    msg = _refused(table_dir, str(f))
    assert "line 2" in msg or "line 1" in msg  # the unclosed '[' of line 1 is reported where YAML sees it


def test_entry_without_mean(table_dir):
    _edit(table_dir, lambda s: s.replace("  mean: ", "  avg: ", 1))
    _refused(table_dir, "line 1:", "lacks 'mean'")


def test_empty_table_file(table_dir):
    _edit(table_dir, lambda s: "")
    _refused(table_dir, "24_lookup_table.yaml", "expected a mapping")


def test_table_folder_that_does_not_exist(tmp_path):
    _refused(tmp_path / "nope", "no such latency-table folder")


def test_table_folder_given_as_a_file(table_dir):
    _refused(table_dir / "24_lookup_table.yaml", "is a file, not a latency-table folder")


def test_relative_missing_folder_is_not_an_unknown_supernet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    msg = _refused("tables/mine", "no such latency-table folder")
    assert "unknown supernet" not in msg


def test_broken_provenance_json(table_dir):
    (table_dir / "provenance.json").write_text('{"supernet": ')
    _refused(table_dir, "provenance.json", "not valid JSON")


def test_provenance_that_is_a_list(table_dir):
    (table_dir / "provenance.json").write_text("[1, 2]")
    _refused(table_dir, "provenance.json", "expected a JSON object")


@pytest.mark.parametrize("cal", [{"a": "x", "b": 0, "c": 0}, {"a": 1.0}, {"a": float("nan"), "b": 0, "c": 0, "n_subnets": 4,
                                                                             "mape_before": 1, "mape_after": 1}])
def test_broken_calibration_fields(table_dir, cal):
    prov = json.loads((table_dir / "provenance.json").read_text())
    prov["calibration"] = cal
    (table_dir / "provenance.json").write_text(json.dumps(prov))
    _refused(table_dir, "provenance.json", "calibration")


def test_median_is_the_authoritative_field():
    assert entry_ms({"mean": 2.0, "median": 1.5}) == 1.5
    assert entry_ms({"mean": 2.0}) == 2.0


def test_shipped_table_loads_fast_with_libyaml():
    t0 = time.perf_counter()
    for r in (24, 28, 32):
        read_table_file(SRC / f"{r}_lookup_table.yaml")
    assert time.perf_counter() - t0 < 5  # generous: a loaded host; libyaml reads these in ~10 ms


def test_table_file_cut_at_a_line_boundary_is_refused_naming_the_file(table_dir):
    def cut(s):   # keep the last entry's key and its first two fields only: still valid YAML
        lines = s.splitlines(keepends=True)
        k = _first_key_line(s, 3)
        return "".join(lines[: k + 2])
    f = _edit(table_dir, cut)
    _refused(table_dir, str(f), "was cut off")
