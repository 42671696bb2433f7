"""Measure a .tflite on an Android device with benchmark_model over adb.

Flow per call: pick the device (by serial), push the model to
/data/local/tmp/ofa_deploy/<sha256>.tflite unless a file with that checksum is already there,
check benchmark_model exists, cool down while the hottest thermal zone is above the limit
(bounded wait), run `taskset MASK benchmark_model --graph=… --num_threads=…`, parse its output.
Calls for one serial run one at a time (a lock per serial); different serials run in parallel.

MeasureSettings.options: serial, use_gpu, cpu_mask (hex; default from settings.cpu_affinity),
cooldown_s (longest wait, default 120), max_temp_c (default 45), poll_s (default 5),
benchmark_model (path on the device), adb_server_port (private adb server port)."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.log import LOGGER
from ofa_deploy.fileio import sha256_file

from .adb import AdbClient, DeviceError, DeviceInfo
from .parser import BenchmarkOutputError, parse_benchmark_output

REMOTE_DIR = "/data/local/tmp/ofa_deploy"
BENCHMARK_MODEL = "/data/local/tmp/benchmark_model"
THERMAL_GLOB = "/sys/class/thermal/thermal_zone*/temp"
log = LOGGER.getChild("tflite.adb")   # printed like the export lines
_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
_checked_tools: set[tuple[str, str]] = set()


def measure_on_device(artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
    """Time `artifact` on the device named by settings.options (see the module docstring)."""
    from ofa_deploy.plugins.shared import adb_session

    o = settings.options
    with adb_session(artifact, settings) as (client, info, remote):
        tool = o.get("benchmark_model", BENCHMARK_MODEL)
        check_tool(client, info.serial, tool)
        temps = cool_down(client, info.serial, o.get("max_temp_c", 45.0), o.get("cooldown_s", 120.0), o.get("poll_s", 5.0))
        out = client.shell(info.serial, _command(tool, remote, settings), timeout=_timeout(settings))
        try:
            result = parse_benchmark_output(out)
        except BenchmarkOutputError as exc:
            raise _run_error(client, info, exc) from None
    runtime = "tflite-benchmark_model-gpu" if o.get("use_gpu") else "tflite-benchmark_model-cpu"
    s = {**settings.to_dict(), "serial": info.serial, "model": info.model, "remote_path": remote,
         "temperature_c_before": temps}
    return result.to_stats(s, runtime, "", f"{info.model or 'android'} ({info.serial})")


def ensure_model(client: AdbClient, serial: str, path: Path) -> str:
    """The model's path on the device, pushed only when no file with its sha256 is there yet."""
    digest = sha256_file(path)
    remote = f"{REMOTE_DIR}/{digest}{path.suffix or '.tflite'}"
    if client.shell(serial, ["sha256sum", remote]).split()[:1] == [digest]:
        log.info("adb: %s already on %s (sha256 matches), push skipped", path.name, serial)
        return remote
    client.shell(serial, ["mkdir", "-p", REMOTE_DIR])
    client.push(serial, path, remote)
    log.info("adb: pushed %s to %s:%s", path.name, serial, remote)
    return remote


def check_tool(client: AdbClient, serial: str, tool: str) -> None:
    """Fail with push instructions when benchmark_model is not on the device (checked once per serial)."""
    if (serial, tool) in _checked_tools:
        return
    if "No such file" in client.shell(serial, ["ls", tool]):
        raise DeviceError(f"benchmark_model is not on device {serial} at {tool}; download the TFLite "
                          f"android_aarch64 benchmark_model and push it: adb -s {serial} push benchmark_model {tool} "
                          f"&& adb -s {serial} shell chmod +x {tool} (or pass options={{'benchmark_model': PATH}})")
    _checked_tools.add((serial, tool))


def read_temperatures(client: AdbClient, serial: str) -> list[float]:
    """Every thermal zone's temperature in °C (millidegree readings converted); garbage skipped."""
    temps = []
    for tok in client.shell_line(serial, f"cat {THERMAL_GLOB}").split():
        try:
            v = float(tok)
        except ValueError:
            continue
        v = v / 1000 if abs(v) > 1000 else v
        if 0 < v < 150:
            temps.append(v)
    return temps


def cool_down(client: AdbClient, serial: str, max_temp_c: float, cooldown_s: float, poll_s: float) -> float | None:
    """Wait (at most cooldown_s) while the hottest zone is above max_temp_c; return the last reading."""
    deadline = time.monotonic() + cooldown_s
    while True:
        temps = read_temperatures(client, serial)
        hottest = max(temps) if temps else None
        if hottest is None or hottest <= max_temp_c:
            return hottest
        if time.monotonic() >= deadline:
            log.warning("adb: %s still at %.1f °C after %.0fs of cool-down (limit %.1f °C); measuring anyway",
                        serial, hottest, cooldown_s, max_temp_c)
            return hottest
        log.info("adb: %s at %.1f °C > %.1f °C, cooling down", serial, hottest, max_temp_c)
        time.sleep(poll_s)


def _command(tool: str, remote: str, settings: MeasureSettings) -> list[str]:
    o = settings.options
    argv = [tool, f"--graph={remote}", f"--num_threads={settings.threads}", f"--warmup_runs={settings.warmup}",
            "--warmup_min_secs=0", f"--num_runs={settings.runs}", f"--min_secs={settings.min_seconds:g}"]
    if o.get("use_gpu"):
        argv.append("--use_gpu=true")
    mask = o.get("cpu_mask") or (format(sum(1 << c for c in settings.cpu_affinity), "x") if settings.cpu_affinity else None)
    return ["taskset", str(mask), *argv] if mask else argv


def _timeout(settings: MeasureSettings) -> float:
    return 120.0 + 2 * settings.min_seconds


def _run_error(client: AdbClient, info: DeviceInfo, exc: Exception) -> DeviceError:
    state = client.state(info.serial)
    if state != "device":
        return DeviceError(f"adb device {info.serial} disconnected mid-run (now {state}); reconnect it, check the "
                           f"cable and that it does not sleep, then retry")
    return DeviceError(f"benchmark_model failed on {info.serial}: {exc}")

