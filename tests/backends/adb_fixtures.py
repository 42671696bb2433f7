"""Fixtures for the adb path: test devices (tests/adb_test_device) as subprocesses on free ports,
and a private adb server for the real `adb` client; all torn down after each test."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ofa_deploy.plugins.tflite.adb import AdbClient

REPO = Path(__file__).resolve().parents[2]


@dataclass
class TestDevice:
    """A running test device: its adb serial, sandbox root (the device's /) and log file."""

    __test__ = False
    serial: str
    root: Path
    log: Path
    proc: subprocess.Popen


@pytest.fixture
def adb_client():
    """The real adb client with its own server on a free port; `adb kill-server` afterwards."""
    client = AdbClient()
    AdbClient._shared[client.port] = client     # measure(options={'adb_server_port': …}) reuses it
    yield client
    client.close()
    AdbClient._shared.pop(client.port, None)


@pytest.fixture
def start_device(tmp_path, adb_client):
    """start_device(mode='normal', model=…, **flags) → TestDevice (already `adb connect`ed unless connect=False)."""
    started: list[TestDevice] = []

    def start(mode: str = "normal", model: str = "OFA-Test-Phone", connect: bool = True, **flags) -> TestDevice:
        root = tmp_path / f"device{len(started)}"
        log = tmp_path / f"device{len(started)}.log"
        argv = [sys.executable, "-m", "tests.adb_test_device", "--port", "0", "--root", str(root), "--mode", mode,
                "--model", model, *[f"--{k.replace('_', '-')}={v}" for k, v in flags.items()]]
        proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
        ready = proc.stdout.readline().split()
        assert ready and ready[0] == "READY", f"test device did not start: {log.read_text()}"
        dev = TestDevice(ready[1], root, log, proc)
        started.append(dev)
        if connect:
            adb_client.call("connect", dev.serial, timeout=20)
        return dev

    yield start
    for dev in started:
        adb_client.call("disconnect", dev.serial, timeout=10)
        dev.proc.terminate()
        try:
            dev.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            dev.proc.kill()
