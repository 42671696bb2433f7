"""The device's file system: a host directory standing in for `/` (so /data/local/tmp and
/sys/class/thermal live under it), plus the device's properties and thermal behaviour."""
from __future__ import annotations

import os
import threading
from pathlib import Path

BENCHMARK_MODEL = "/data/local/tmp/benchmark_model"
EXECUTOR_RUNNER = "/data/local/tmp/executor_runner"
THERMAL_ZONES = 2
COOL_MILLI_C, HOT_MILLI_C = 38000, 85000


class Sandbox:
    """Maps device paths into `root`, refusing any path that would leave it."""

    def __init__(self, root: Path, props: dict[str, str], hot_reads: int = 0, benchmark_binary: bool = True):
        self.root = Path(root).resolve()
        self.props = props
        self.hot_reads = hot_reads          # how many more thermal reads report HOT before it cools
        self._lock = threading.Lock()
        (self.root / "data/local/tmp").mkdir(parents=True, exist_ok=True)
        for i in range(THERMAL_ZONES):
            self._write_temp(i, HOT_MILLI_C if hot_reads else COOL_MILLI_C)
        if benchmark_binary:
            # a marker file: running it runs bench.py (the real tool is an aarch64 binary)
            self.write_file(BENCHMARK_MODEL, b"#!ofa-deploy adb_test_device benchmark_model\n", 0o755)
            # likewise: running it runs runner.py on this host's ExecuTorch runtime
            self.write_file(EXECUTOR_RUNNER, b"#!ofa-deploy adb_test_device executor_runner\n", 0o755)

    def host_path(self, device_path: str, cwd: str = "/") -> Path:
        """The host path for a device path (absolute or relative to `cwd`)."""
        joined = os.path.normpath(os.path.join(cwd, device_path))
        host = (self.root / joined.lstrip("/")).resolve()
        if host != self.root and self.root not in host.parents:
            raise ValueError(f"{device_path}: outside the device sandbox")
        return host

    def device_path(self, host: Path) -> str:
        """The device path of a host path inside the sandbox."""
        return "/" + str(Path(host).resolve().relative_to(self.root))

    def write_file(self, device_path: str, data: bytes, mode: int = 0o644) -> None:
        """Create or replace a file (parent directories are created, as adb push does)."""
        host = self.host_path(device_path)
        host.parent.mkdir(parents=True, exist_ok=True)
        tmp = host.with_name(f".{host.name}.part")
        tmp.write_bytes(data)
        os.chmod(tmp, mode)
        tmp.replace(host)

    def read_file(self, device_path: str) -> bytes:
        """File contents; thermal zones report hot for the first `hot_reads` reads, then cool."""
        host = self.host_path(device_path)
        if host.name == "temp" and "thermal" in host.parts:
            with self._lock:
                if self.hot_reads:
                    self.hot_reads -= 1
                    if not self.hot_reads:
                        for i in range(THERMAL_ZONES):
                            self._write_temp(i, COOL_MILLI_C)
                    return f"{HOT_MILLI_C}\n".encode()
        return host.read_bytes()

    def _write_temp(self, zone: int, milli_c: int) -> None:
        d = self.root / f"sys/class/thermal/thermal_zone{zone}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "temp").write_text(f"{milli_c}\n")
