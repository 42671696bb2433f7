"""Files we write keep the umask mode (0644 under umask 022), journals survive a torn last line,
and broken checkpoint / predictor files are named with what they are and how to get a good one."""
import json
import os
import stat
from pathlib import Path

import pytest
import torch

from ofa_deploy.errors import BadArgumentError, FileFormatError
from ofa_deploy.fileio import append_jsonl, atomic_path, atomic_write_json, atomic_write_text, read_jsonl
from ofa_deploy.latency import load_latency_table

TINY = "ofa_tiny_d123_e346_k357"
REPO_DATA = Path(__file__).resolve().parents[2] / "ofa_deploy" / "data"


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_atomic_write_text_under_umask_022_is_0644(tmp_path, umask_022):
    assert _mode(atomic_write_text(tmp_path / "a.txt", "x")) == 0o644


def test_atomic_write_json_under_umask_077_is_0600(tmp_path):
    old = os.umask(0o077)
    try:
        assert _mode(atomic_write_json(tmp_path / "a.json", {})) == 0o600
    finally:
        os.umask(old)


def test_atomic_path_used_by_torch_save_is_0644(tmp_path, umask_022):
    with atomic_path(tmp_path / "model.pth") as tmp:
        torch.save({"x": torch.zeros(1)}, tmp)
    assert _mode(tmp_path / "model.pth") == 0o644


def test_saved_latency_table_files_are_0644(tmp_path, umask_022):
    t = load_latency_table("latency_tables/ofa_tiny_d123_e346_k357/onnxruntime-cpu")
    t.save(tmp_path / "t")
    assert {f.name: _mode(f) for f in (tmp_path / "t").iterdir()} == \
        {f.name: 0o644 for f in (tmp_path / "t").iterdir()}


@pytest.fixture(scope="module")
def tiny_model():
    from ofa_deploy.zoo import get_model

    return get_model(supernet=TINY, macs=1e7, progress=False, verify=False, calib_data=None)


def test_saved_model_pth_and_exported_onnx_with_card_are_0644(tmp_path, umask_022, tiny_model):
    from ofa_deploy.deploy.export import export
    from ofa_deploy.zoo import save_model

    save_model(tiny_model, tmp_path / "model.pth")
    export(tiny_model, "onnx", tmp_path / "exp")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".pth", ".onnx", ".json"}
    assert {p.name: _mode(p) for p in files} == {p.name: 0o644 for p in files}


def test_export_input_with_wrong_channel_count(tmp_path, tiny_model):
    from ofa_deploy.deploy.export import export
    from ofa_deploy.errors import BadArgumentError

    with pytest.raises(BadArgumentError, match="has 3 channels but the model takes 1"):
        export(tiny_model, "onnx", tmp_path, example_input=torch.randn(1, 3, 24, 24))
    assert not any(tmp_path.iterdir())


def test_export_input_of_wrong_rank(tmp_path, tiny_model):
    from ofa_deploy.deploy.export import export
    from ofa_deploy.errors import BadArgumentError

    with pytest.raises(BadArgumentError, match="4-D NCHW"):
        export(tiny_model, "onnx", tmp_path, example_input=torch.randn(24, 24))


def test_export_unknown_option_lists_accepted_ones(tmp_path, tiny_model):
    from ofa_deploy.deploy.export import export
    from ofa_deploy.errors import BadArgumentError

    with pytest.raises(BadArgumentError, match=r"tune_trials.*accepts: dynamo"):
        export(tiny_model, "onnx", tmp_path, tune_trials=256)


def test_export_format_list_validated_before_any_export(tmp_path):
    from ofa_deploy.deploy.export import check_export_request
    from ofa_deploy.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="did you mean 'tflite'"):
        check_export_request("onnx,coreml,tf", "fp32", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_precision_not_offered_by_one_format(tmp_path):
    from ofa_deploy.deploy.export import check_export_request
    from ofa_deploy.errors import BadArgumentError

    with pytest.raises(BadArgumentError, match="int4"):
        check_export_request(["onnx"], "int4", tmp_path)


def test_journal_with_torn_last_line_keeps_the_next_record(tmp_path):
    j = tmp_path / "journal.jsonl"
    append_jsonl(j, {"id": "a"})
    with open(j, "a") as f:
        f.write('{"id": "b", "mea')  # a kill mid-write
    append_jsonl(j, {"id": "c"})
    assert [r["id"] for r in read_jsonl(j)] == ["a", "c"]
    assert j.read_text().splitlines()[-1] == '{"id": "c"}'


def test_journal_in_a_folder_that_does_not_exist_yet(tmp_path):
    append_jsonl(tmp_path / "new" / "dir" / "evaluate_journal.jsonl", {"id": 1})
    assert read_jsonl(tmp_path / "new" / "dir" / "evaluate_journal.jsonl") == [{"id": 1}]


def test_builder_journal_skips_torn_fragment(tmp_path):
    from ofa_deploy.latency.builder import Journal

    p = tmp_path / "journal.jsonl"
    p.write_text(json.dumps({"id": "a"}) + "\n" + '{"id": "b"')
    j = Journal(p)
    j.add({"id": "c"})
    assert set(Journal(p).done) == {"a", "c"}


def test_write_under_a_path_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadArgumentError, match="is a file, not a folder"):
        atomic_write_text(tmp_path / "f" / "out.txt", "x")


# ---- checkpoints and predictor files -------------------------------------------------------
def _net():
    from ofa_deploy.supernets import get_supernet

    return get_supernet(TINY)


@pytest.mark.parametrize("content,needle", [
    (b"", "is empty"),
    (b"garbage" * 100, "corrupt or not a PyTorch file"),
])
def test_checkpoint_that_is_empty_or_garbage(tmp_path, content, needle):
    from ofa_deploy.supernets import load_checkpoint

    p = tmp_path / "w.pth"
    p.write_bytes(content)
    with pytest.raises(FileFormatError) as err:
        load_checkpoint(_net(), p)
    msg = str(err.value)
    assert str(p) in msg and needle in msg and "weights_only=False" not in msg and "download it again" in msg


def test_checkpoint_truncated(tmp_path):
    from ofa_deploy.supernets import load_checkpoint

    good = tmp_path / "good.pth"
    torch.save({"state_dict": _net().state_dict()}, good)
    p = tmp_path / "w.pth"
    p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(FileFormatError, match="truncated|corrupt") as err:
        load_checkpoint(_net(), p)
    assert "weights_only=False" not in str(err.value)


def test_checkpoint_of_wrong_shape(tmp_path):
    from ofa_deploy.supernets import get_supernet, load_checkpoint

    p = tmp_path / "w.pth"
    torch.save({"state_dict": get_supernet("ofa_mbv3_d234_e346_k357_w1.0").state_dict()}, p)
    with pytest.raises(FileFormatError, match="does not fit"):
        load_checkpoint(_net(), p)


def test_checkpoint_that_is_a_tensor_not_a_state_dict(tmp_path):
    from ofa_deploy.supernets import load_checkpoint

    p = tmp_path / "w.pth"
    torch.save(torch.zeros(3), p)
    with pytest.raises(FileFormatError, match="not a checkpoint"):
        load_checkpoint(_net(), p)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_code_executing_pickle_stays_refused(tmp_path):
    from ofa_deploy.supernets import load_checkpoint

    p = tmp_path / "evil.pth"
    torch.save({"state_dict": _Evil()}, p)
    with pytest.raises(FileFormatError, match="could run code") as err:
        load_checkpoint(_net(), p)
    assert "weights_only=False" not in str(err.value)


@pytest.mark.parametrize("content", [b"", b"\x00" * 50])
def test_accuracy_predictor_file_garbage(tmp_path, content):
    from ofa_deploy.accuracy.load import load_checkpoint

    p = tmp_path / "acc.pth"
    p.write_bytes(content)
    with pytest.raises(FileFormatError) as err:
        load_checkpoint(p, TINY)
    assert str(p) in str(err.value) and "accuracy-predictor" in str(err.value)


def test_saved_model_file_garbage(tmp_path):
    from ofa_deploy.zoo import load_model

    p = tmp_path / "model.pth"
    p.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(FileFormatError, match="ofa-deploy get --out"):
        load_model(p)


def test_lut_evaluate_into_an_out_folder_that_does_not_exist_yet(tmp_path):
    from ofa_deploy.deploy.base import MeasureSettings
    from ofa_deploy.latency.evaluate import evaluate_table

    out = tmp_path / "new" / "dir"
    evaluate_table(load_latency_table("latency_tables/ofa_tiny_d123_e346_k357/onnxruntime-cpu"), out,
                   "onnxruntime", n=1, settings=MeasureSettings(warmup=1, runs=3))
    assert (out / "evaluate.json").is_file() and (out / "evaluate_journal.jsonl").is_file()


def test_lut_evaluate_default_out_folder_for_a_table_name(tmp_path):
    from tests.helpers.cli import cli

    r = cli("lut", "evaluate", "ofa_tiny_d123_e346_k357/onnxruntime-cpu", "--backend", "onnxruntime", "-n", "1",
            "--searched", "0", "--warmup", "1", "--runs", "3", cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert list((tmp_path / "evaluate_out").rglob("evaluate.json"))


def test_accuracy_predictor_file_truncated(tmp_path):
    from ofa_deploy.accuracy.load import load_checkpoint

    good = (REPO_DATA / "acc_predictor_ofa_tiny.pth").read_bytes()
    p = tmp_path / "acc.pth"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(FileFormatError, match="truncated|corrupt") as err:
        load_checkpoint(p, TINY)
    assert str(p) in str(err.value) and "weights_only=False" not in str(err.value)


def test_accuracy_predictor_file_of_wrong_shape_names_the_file(tmp_path):
    from ofa_deploy.accuracy.load import load_checkpoint

    good = torch.load(REPO_DATA / "acc_predictor_ofa_tiny.pth", weights_only=True)
    state = dict(good["state_dict"])
    last = sorted(state)[-1]
    state[last] = torch.zeros(5, *state[last].shape[1:])
    p = tmp_path / "acc.pth"
    torch.save({**good, "state_dict": state}, p)
    with pytest.raises(FileFormatError, match="accuracy-predictor") as err:
        load_checkpoint(p, TINY)
    assert str(p) in str(err.value)
