"""Measure a .pte on an Android device over adb with ExecuTorch's executor_runner (built with
XNNPACK and the thread pool), through the adb session the tflite backend uses too
(ofa_deploy.plugins.shared.adb_session: connect, per-serial lock, push by checksum) and its
thermal cool-down.

`executor_runner --model_path=… --num_executions=WARMUP+RUNS --cpu_threads=N --print_output=none`;
the first WARMUP iteration lines are dropped. MeasureSettings.options: serial, executor_runner
(path on the device), cpu_mask, cooldown_s, max_temp_c, poll_s, adb_server_port."""
from __future__ import annotations

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.plugins.shared import adb_session
from ofa_deploy.plugins.tflite.adb import DeviceError
from ofa_deploy.plugins.tflite.device import cool_down

from .parser import RunnerOutputError, parse_runner_output

EXECUTOR_RUNNER = "/data/local/tmp/executor_runner"


def measure_on_device(artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
    """Time `artifact` on the device named by settings.options (see the module docstring)."""
    o = settings.options
    with adb_session(artifact, settings) as (client, info, remote):
        tool = o.get("executor_runner", EXECUTOR_RUNNER)
        if "No such file" in client.shell(info.serial, ["ls", tool]):
            raise DeviceError(f"executor_runner is not on device {info.serial} at {tool}; build ExecuTorch's "
                              f"executor_runner for android-arm64 with XNNPACK (-DEXECUTORCH_BUILD_XNNPACK=ON) and push "
                              f"it: adb -s {info.serial} push executor_runner {tool} && adb -s {info.serial} shell "
                              f"chmod +x {tool} (or pass options={{'executor_runner': PATH}})")
        temps = cool_down(client, info.serial, o.get("max_temp_c", 45.0), o.get("cooldown_s", 120.0), o.get("poll_s", 5.0))
        out = client.shell(info.serial, _command(tool, remote, settings), timeout=120.0 + 2 * settings.min_seconds)
        try:
            result = parse_runner_output(out)
        except RunnerOutputError as exc:
            state = client.state(info.serial)
            if state != "device":
                raise DeviceError(f"adb device {info.serial} disconnected mid-run (now {state}); reconnect it and "
                                  f"retry") from None
            raise DeviceError(f"executor_runner failed on {info.serial}: {exc}") from None
    s = {**settings.to_dict(), "serial": info.serial, "model": info.model, "remote_path": remote,
         "temperature_c_before": temps, "load_ms": result.load_ms}
    return LatencyStats.from_samples(result.timed(settings.warmup), s, "executorch-executor_runner-xnnpack", "",
                                     f"{info.model or 'android'} ({info.serial})")


def _command(tool: str, remote: str, settings: MeasureSettings) -> list[str]:
    argv = [tool, f"--model_path={remote}", f"--num_executions={settings.warmup + settings.runs}",
            f"--cpu_threads={settings.threads}", "--print_output=none"]
    o = settings.options
    mask = o.get("cpu_mask") or (format(sum(1 << c for c in settings.cpu_affinity), "x") if settings.cpu_affinity else None)
    return ["taskset", str(mask), *argv] if mask else argv
