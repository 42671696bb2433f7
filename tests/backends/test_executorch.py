"""ExecuTorch backend with the real runtime: .pte export (fp32, int8 via pt2e), validation against
PyTorch, local measure, and executor_runner over adb through the test device."""
import pytest

import ofa_deploy
from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.errors import BackendUnavailableError
from ofa_deploy.plugins.executorch.parser import RunnerOutputError, parse_runner_output
from ofa_deploy.plugins.tflite.adb import DeviceError

from adb_fixtures import adb_client, start_device  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def fp32(tiny_subnet, tmp_path_factory):
    return ofa_deploy.export(tiny_subnet, "pte", tmp_path_factory.mktemp("et"))


def test_fp32_xnnpack_delegated_validated_with_sidecar(fp32):
    assert fp32.path.suffix == ".pte" and fp32.path.read_bytes()[4:8] == b"ET12"   # ExecuTorch flatbuffer id
    assert fp32.card["parity"]["atol"] == 1e-4 and fp32.card["parity"]["max_abs_diff"] <= 1e-4
    share = fp32.extra["delegation"]
    assert share["delegated_subgraphs"] >= 1 and 0.8 < share["delegated_share"] <= 1.0
    assert share["delegated_ops"] < share["total_ops"]
    side = ofa_deploy.deploy.base.Artifact.load(fp32.path)
    assert side.extra["delegation"] == share and side.card["supernet"] == "ofa_tiny_d123_e346_k357"
    assert oct(fp32.path.stat().st_mode & 0o777) == oct(0o666 & ~ofa_deploy.fileio.current_umask())


def test_int8_pt2e_reports_parity(tiny_subnet, tmp_path, calib, fp32):
    art = ofa_deploy.export(tiny_subnet, "pte", tmp_path, precision="int8", calibration=calib)
    parity = art.card["parity"]
    assert parity["atol"] is None and 0 < parity["max_abs_diff"] < 0.5
    assert art.extra["delegation"]["delegated_ops"] > fp32.extra["delegation"]["delegated_ops"]  # q/dq ops too


def test_local_measure_threads_and_version(fp32):
    stats = get_backend("executorch").measure(fp32, MeasureSettings(threads=2, warmup=2, runs=15))
    assert stats.count == 15 and stats.settings["threads"] == 2 and stats.runtime_version == "1.5.1"
    assert 0 < stats.min <= stats.median <= stats.max


def test_adb_executor_runner_through_test_device(adb_client, start_device, fp32):
    dev = start_device(model="Pixel-ET")
    s = MeasureSettings(threads=1, warmup=3, runs=12, options={"adb_server_port": adb_client.port, "serial": dev.serial})
    stats = get_backend("executorch").measure(fp32, s)
    assert stats.count == 12 and stats.runtime == "executorch-executor_runner-xnnpack"
    assert stats.device == f"Pixel_ET ({dev.serial})" and stats.settings["load_ms"] > 0
    assert (dev.root / stats.settings["remote_path"].lstrip("/")).read_bytes() == fp32.path.read_bytes()
    assert stats.settings["remote_path"].endswith(".pte")


def test_adb_without_executor_runner_names_the_fix(adb_client, start_device, fp32):
    dev = start_device(mode="no-benchmark")
    s = MeasureSettings(threads=1, warmup=0, runs=2, options={"adb_server_port": adb_client.port, "serial": dev.serial})
    with pytest.raises(DeviceError, match="executor_runner is not on device .* push"):
        get_backend("executorch").measure(fp32, s)


def test_parser_drops_warmup_and_rejects_cut_output():
    log = ("I 00:00:00.001 executorch:executor_runner.cpp:707] Model loaded in 2.5 ms.\n"
           + "".join(f"I 00:00:00.00{i} executorch:executor_runner.cpp:849] Iteration {i} of 4: {i}.0 ms\n"
                     for i in range(1, 5))
           + "I 00:00:00.009 executorch:executor_runner.cpp:860] Model executed successfully 4 time(s) in 10.0 ms.\n")
    r = parse_runner_output(log)
    assert r.timed(1) == [2.0, 3.0, 4.0] and r.load_ms == 2.5 and r.total_ms == 10.0
    with pytest.raises(RunnerOutputError, match="ended with"):
        parse_runner_output(log.rsplit("I 00:00:00.009", 1)[0])


def test_missing_runtime_names_install_command(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "executorch.exir", None)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'ofa-deploy\[executorch\]'"):
        get_backend("executorch").export(None, None, "/nonexistent")
