"""The real `adb` client, always with its own server: every call carries
ANDROID_ADB_SERVER_PORT=<port> so we never touch (or get confused by) a user's adb server, and
`close()` runs `adb kill-server` under the same port. Argument lists only; the one remote shell
line per call is built from shlex-quoted arguments."""
from __future__ import annotations

import atexit
import os
import re
import shlex
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ofa_deploy.errors import OfaDeployError


class DeviceError(OfaDeployError):
    """An adb device that is missing, ambiguous, unauthorized, offline, lacks a tool, or vanished."""


class _NotFound(DeviceError):
    """No device (or not the named one) yet: worth retrying for a moment."""


@dataclass(frozen=True)
class DeviceInfo:
    """One line of `adb devices -l`."""

    serial: str
    state: str
    model: str = ""
    product: str = ""
    device: str = ""

    def describe(self) -> str:
        return f"{self.serial} ({self.model or 'unknown model'}, {self.state})"


_TCP_SERIAL = re.compile(r"^[\w.-]+:\d+$")


class AdbClient:
    """The adb client bound to one private adb server port."""

    _shared: dict[int | None, "AdbClient"] = {}
    _shared_lock = threading.Lock()

    def __init__(self, server_port: int | None = None, adb: str = "adb", timeout: float = 120.0):
        self.port = int(server_port) if server_port else _free_port()
        self.adb, self.timeout = adb, timeout
        self.env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(self.port)}

    @classmethod
    def shared(cls, server_port: int | None = None) -> "AdbClient":
        """One client per server port for this process (a private port when None), killed at exit."""
        with cls._shared_lock:
            if server_port not in cls._shared:
                client = cls._shared[server_port] = cls(server_port)
                atexit.register(client.close)
            return cls._shared[server_port]

    def call(self, *args: str, serial: str | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run `adb [-s serial] args…` and return the finished process (text output)."""
        argv = [self.adb, *(["-s", serial] if serial else []), *args]
        try:
            return subprocess.run(argv, env=self.env, capture_output=True, text=True, errors="replace",
                                  timeout=timeout or self.timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise DeviceError(f"the adb client {self.adb!r} is not installed; install it (Debian/Ubuntu: "
                              f"apt-get install adb, or Android platform-tools) and retry") from None
        except subprocess.TimeoutExpired:
            raise DeviceError(f"`{' '.join(argv)}` did not finish in {timeout or self.timeout:.0f}s; check that "
                              f"the device is connected and responsive (adb devices -l) and retry") from None

    def devices(self) -> list[DeviceInfo]:
        """Every device the private server sees, with its state and model."""
        out = self.call("devices", "-l").stdout
        found = []
        for line in out.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("*"):
                kv = dict(p.split(":", 1) for p in parts[2:] if ":" in p)
                found.append(DeviceInfo(parts[0], parts[1], kv.get("model", ""), kv.get("product", ""),
                                        kv.get("device", "")))
        return found

    def connect(self, serial: str | None = None, wait: float = 5.0) -> DeviceInfo:
        """The device to use, ready: `adb connect` first for HOST:PORT serials; errors name the fix."""
        if serial and _TCP_SERIAL.match(serial) and serial not in {d.serial for d in self.devices()}:
            out = self.call("connect", serial, timeout=30).stdout
            if "connected" not in out:
                raise DeviceError(f"adb could not connect to {serial} ({out.strip() or 'no answer'}); check the "
                                  f"address and that adbd listens there (adb tcpip 5555 on the phone), then retry")
        deadline = time.monotonic() + wait
        while True:
            # a fresh private server needs a moment to enumerate USB devices, and a just-connected
            # device passes through 'offline' / 'authorizing': retry until `wait` runs out
            try:
                info = self._select(serial)
            except _NotFound:
                if time.monotonic() >= deadline:
                    raise
                info = None
            if info is not None and (info.state == "device" or time.monotonic() >= deadline):
                return _ready(info)
            time.sleep(0.2)

    def _select(self, serial: str | None) -> DeviceInfo:
        devices = self.devices()
        if serial:
            for d in devices:
                if d.serial == serial:
                    return d
            seen = ", ".join(d.describe() for d in devices) or "none"
            raise _NotFound(f"adb device {serial!r} is not attached (attached: {seen}); check the serial with "
                              f"`adb devices -l` and the cable, then retry")
        if not devices:
            raise _NotFound("no adb device is attached; plug in a phone with USB debugging enabled (or "
                              "`adb connect HOST:PORT`) and retry")
        if len(devices) > 1:
            raise DeviceError(f"{len(devices)} adb devices are attached ({', '.join(d.describe() for d in devices)});"
                              f" choose one with options={{'serial': '<serial>'}}")
        return devices[0]

    def shell(self, serial: str, argv: list[str], timeout: float | None = None) -> str:
        """Run one command on the device; each argument is shlex-quoted (no remote shell parsing of it)."""
        return self.shell_line(serial, " ".join(shlex.quote(str(a)) for a in argv), timeout)

    def shell_line(self, serial: str, line: str, timeout: float | None = None) -> str:
        """Run a fixed command line written by us (e.g. with a glob); never pass user input here."""
        proc = self.call("shell", line, serial=serial, timeout=timeout)
        return proc.stdout + proc.stderr

    def push(self, serial: str, local: Path, remote: str) -> None:
        """Copy a file to the device, or raise DeviceError with adb's message."""
        proc = self.call("push", str(local), remote, serial=serial)
        if proc.returncode != 0:
            raise DeviceError(f"adb push {local} → {serial}:{remote} failed ({(proc.stderr or proc.stdout).strip()}); "
                              f"check free space and that the device is still attached, then retry")

    def state(self, serial: str) -> str:
        """The device's state now ('device', 'offline', …) or 'missing'."""
        return next((d.state for d in self.devices() if d.serial == serial), "missing")

    def close(self) -> None:
        """Stop the private adb server (idempotent)."""
        try:
            subprocess.run([self.adb, "kill-server"], env=self.env, capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass


def _ready(info: DeviceInfo) -> DeviceInfo:
    if info.state == "unauthorized":
        raise DeviceError(f"adb device {info.serial} is unauthorized: unlock the phone and accept the 'Allow USB "
                          f"debugging' prompt (or revoke authorizations in Developer options and re-plug), then retry")
    if info.state == "offline":
        raise DeviceError(f"adb device {info.serial} is offline: re-plug it or run `adb reconnect`, wait for it to "
                          f"show as 'device' in `adb devices -l`, then retry")
    if info.state != "device":
        raise DeviceError(f"adb device {info.serial} is in state {info.state!r}, not 'device'; wait for it to "
                          f"finish connecting (adb wait-for-device) and retry")
    return info


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
