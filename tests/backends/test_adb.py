"""The on-device path end to end: the real adb client and server, a test device speaking the adb
wire protocol (tests/adb_test_device), benchmark_model's real output format."""
import threading

import pytest

import ofa_deploy
from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.plugins.tflite.adb import DeviceError
from ofa_deploy.plugins.tflite.device import REMOTE_DIR

from adb_fixtures import adb_client, start_device  # noqa: F401  (fixtures)

FAST = dict(threads=1, warmup=2, runs=10)


@pytest.fixture(scope="module")
def model(tiny_subnet, tmp_path_factory):
    return ofa_deploy.export(tiny_subnet, "tflite", tmp_path_factory.mktemp("adb"), validate=False)


def settings(client, serial=None, **options):
    return MeasureSettings(**FAST, cpu_affinity=(0, 1), options={"adb_server_port": client.port, "serial": serial,
                                                                 "adb": True, **options})


def test_connect_push_run_parse_and_skip_repush(adb_client, start_device, model, library_log):
    dev = start_device(model="Pixel-Test")
    info = get_backend("tflite").connect(dev.serial, adb_server_port=adb_client.port)
    assert info.serial == dev.serial and info.model == "Pixel_Test" and info.state == "device"
    stats = get_backend("tflite").measure(model, settings(adb_client, dev.serial))
    assert stats.count == 10 and 0 < stats.min <= stats.mean <= stats.max and stats.device == f"Pixel_Test ({dev.serial})"
    assert stats.settings["remote_path"].startswith(REMOTE_DIR) and stats.settings["first_inference_ms"] > 0
    pushed = dev.root / stats.settings["remote_path"].lstrip("/")
    assert pushed.read_bytes() == model.path.read_bytes()
    assert "pushed" in library_log.text
    library_log.clear()
    again = get_backend("tflite").measure(model, settings(adb_client, dev.serial, use_gpu=True))
    assert "push skipped" in library_log.text and again.runtime == "tflite-benchmark_model-gpu"
    log = dev.log.read_text()
    assert f"taskset 3 /data/local/tmp/benchmark_model --graph={stats.settings['remote_path']}" in log
    assert "--use_gpu=true" in log and "--num_runs=10" in log


def test_hot_device_cools_down_before_running(adb_client, start_device, model, library_log):
    dev = start_device(mode="hot", hot_reads=2)
    stats = get_backend("tflite").measure(model, settings(adb_client, dev.serial, max_temp_c=45, poll_s=0.1))
    assert "85.0 °C > 45.0 °C, cooling down" in library_log.text
    assert stats.settings["temperature_c_before"] == 38.0


def test_several_devices_need_a_serial_and_run_in_parallel(adb_client, start_device, model):
    a, b = start_device(model="Phone-A"), start_device(model="Phone-B")
    with pytest.raises(DeviceError, match="2 adb devices are attached.*choose one with options=.'serial'") as err:
        adb_client.connect(None)
    assert f"{a.serial} (Phone_A, device)" in str(err.value) and f"{b.serial} (Phone_B, device)" in str(err.value)
    assert adb_client.connect(b.serial).model == "Phone_B"
    results = {}

    def run(dev):
        results[dev.serial] = get_backend("tflite").measure(model, settings(adb_client, dev.serial)).device

    threads = [threading.Thread(target=run, args=(d,)) for d in (a, b, a)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {a.serial: f"Phone_A ({a.serial})", b.serial: f"Phone_B ({b.serial})"}


def test_no_device_and_unknown_serial(adb_client):
    with pytest.raises(DeviceError, match="no adb device is attached; plug in a phone"):
        adb_client.connect(wait=0.5)
    with pytest.raises(DeviceError, match="adb device 'R58M123' is not attached"):
        adb_client.connect("R58M123", wait=0.5)


def test_unauthorized_device(adb_client, start_device):
    dev = start_device(mode="unauthorized")
    with pytest.raises(DeviceError, match=f"{dev.serial} is unauthorized: unlock the phone and accept"):
        adb_client.connect(dev.serial, wait=2)


def test_offline_device(adb_client, start_device):
    dev = start_device(mode="offline")
    with pytest.raises(DeviceError, match=f"{dev.serial} is offline: re-plug it"):
        adb_client.connect(dev.serial, wait=1)


def test_missing_benchmark_model_says_how_to_push(adb_client, start_device, model):
    dev = start_device(mode="no-benchmark")
    with pytest.raises(DeviceError, match=f"benchmark_model is not on device {dev.serial}.*adb -s {dev.serial} push"):
        get_backend("tflite").measure(model, settings(adb_client, dev.serial))


def test_disconnect_mid_run(adb_client, start_device, model):
    dev = start_device(mode="disconnect")
    with pytest.raises(DeviceError, match=f"{dev.serial} disconnected mid-run"):
        get_backend("tflite").measure(model, settings(adb_client, dev.serial))
