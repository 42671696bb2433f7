"""adbd over TCP for tests: `adb connect 127.0.0.1:PORT` with the real adb client and server.

    python -m tests.adb_test_device --port 5599 --root /tmp/dev [--mode normal|unauthorized|
        offline|no-benchmark|disconnect|hot] [--model Pixel-Test] [--serial-name testdev]

It answers CNXN with a banner (`device::ro.product.name=…;ro.product.model=…;ro.product.device=…;
features=cmd` — no shell_v2, so the host uses raw `shell:`), serves `shell:` (commands from
shell.py, in a sandbox under --root that stands in for `/`) and `sync:` (push/pull/ls).
`/data/local/tmp/benchmark_model` runs the pushed .tflite on ai-edge-litert and prints the real
tool's log format; `/data/local/tmp/executor_runner` runs a pushed .pte on this host's ExecuTorch
runtime and prints executor_runner's ET_LOG lines. Modes simulate failures:

- unauthorized: answers CNXN with AUTH tokens and never accepts a key (state `unauthorized`)
- offline: accepts the TCP connection and never answers CNXN (state `offline`)
- no-benchmark: no benchmark_model (nor executor_runner) binary on the device
- disconnect: drops the connection and exits as soon as benchmark_model starts timing
- hot: the thermal zones read 85 °C for the first --hot-reads reads, then 38 °C

One device per process: start two for the several-devices case.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

if not __package__:   # run as a script (python tests/adb_test_device/server.py): import as the package (PEP 366)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "tests.adb_test_device"

from .protocol import (AUTH, AUTH_RSAPUBLICKEY, AUTH_TOKEN, CLSE, CNXN, MAX_PAYLOAD, OKAY, OPEN, VERSION,  # noqa: E402
                       WRTE, Stream, pack, read_message)
from .sandbox import Sandbox  # noqa: E402
from .shell import Disconnect, run_command  # noqa: E402
from .sync import serve_sync  # noqa: E402

MODES = ("normal", "unauthorized", "offline", "no-benchmark", "disconnect", "hot")
log = logging.getLogger("adb_test_device")


class Connection:
    """One host connection: handshake, then multiplexed streams."""

    def __init__(self, device: "Device", reader, writer):
        self.device, self.reader, self.writer = device, reader, writer
        self.max_payload = 4096
        self.streams: dict[int, Stream] = {}
        self.next_id = 1

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    async def serve(self) -> None:
        try:
            while True:
                cmd, arg0, arg1, payload = await read_message(self.reader)
                await self._handle(cmd, arg0, arg1, payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for s in self.streams.values():
                s.closed = True
                s.acked.set()
            self.writer.close()

    async def _handle(self, cmd: bytes, arg0: int, arg1: int, payload: bytes) -> None:
        mode = self.device.mode
        if cmd == CNXN:
            log.info("CNXN from host: %r", payload)
            self.max_payload = min(arg1 or 4096, MAX_PAYLOAD)
            if mode == "unauthorized":
                self.send(pack(AUTH, AUTH_TOKEN, 0, os.urandom(20)))
            elif mode != "offline":
                self.send(pack(CNXN, VERSION, MAX_PAYLOAD, self.device.banner()))
        elif cmd == AUTH:   # never accept a signature or a public key
            if mode == "unauthorized" and arg0 != AUTH_RSAPUBLICKEY:
                self.send(pack(AUTH, AUTH_TOKEN, 0, os.urandom(20)))
        elif cmd == OPEN:
            self._open(arg0, payload.rstrip(b"\0").decode(errors="replace"))
        elif cmd == OKAY and arg1 in self.streams:
            self.streams[arg1].acked.set()
        elif cmd == WRTE and arg1 in self.streams:
            self.streams[arg1].incoming.feed_data(payload)
            self.send(pack(OKAY, arg1, arg0))
        elif cmd == CLSE and arg1 in self.streams:
            s = self.streams.pop(arg1)
            s.incoming.feed_eof()
            s.closed = True
            s.acked.set()

    def _open(self, remote_id: int, service: str) -> None:
        log.info("OPEN %s", service)
        if not service.startswith(("shell:", "sync:")):
            self.send(pack(CLSE, 0, remote_id))
            return
        stream = Stream(self, self.next_id, remote_id)
        self.streams[self.next_id] = stream
        self.next_id += 1
        self.send(pack(OKAY, stream.local_id, remote_id))
        job = self._shell(stream, service[6:]) if service.startswith("shell:") else serve_sync(stream, self.device.sandbox)
        asyncio.ensure_future(self._finish(stream, job))

    async def _finish(self, stream: Stream, job) -> None:
        try:
            await job
        finally:
            stream.close()
            self.streams.pop(stream.local_id, None)

    async def _shell(self, stream: Stream, line: str) -> None:
        loop = asyncio.get_running_loop()

        def emit(text: str) -> None:
            asyncio.run_coroutine_threadsafe(stream.write((text + "\n").encode()), loop).result()

        def before_benchmark() -> None:
            if self.device.mode == "disconnect":
                raise Disconnect

        try:
            await loop.run_in_executor(None, run_command, line, self.device.sandbox, emit, before_benchmark)
        except Disconnect:
            log.info("disconnect mode: dropping off the bus mid-run")
            self.writer.transport.abort()
            loop.call_later(0.2, os._exit, 0)
        except Exception as exc:  # a bug in a command must not kill the device
            await stream.write(f"{line.split()[0] if line.split() else 'sh'}: {exc}\n".encode())


class Device:
    """The device's identity, mode and file system."""

    def __init__(self, root: Path, mode: str, model: str, name: str, hot_reads: int):
        self.mode, self.model, self.name = mode, model, name
        props = {"ro.product.model": model, "ro.product.name": name, "ro.product.device": name,
                 "ro.build.version.sdk": "33", "ro.product.cpu.abi": "arm64-v8a"}
        self.sandbox = Sandbox(root, props, hot_reads if mode == "hot" else 0,
                               benchmark_binary=mode != "no-benchmark")

    def banner(self) -> bytes:
        return (f"device::ro.product.name={self.name};ro.product.model={self.model};"
                f"ro.product.device={self.name};features=cmd").encode()


async def serve(port: int, device: Device) -> None:
    """Listen on 127.0.0.1:port until killed; print READY when listening (tests wait for it)."""
    async def on_connect(reader, writer):
        await Connection(device, reader, writer).serve()

    server = await asyncio.start_server(on_connect, "127.0.0.1", port)
    print(f"READY 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="adb_test_device", description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: pick a free one)")
    p.add_argument("--root", type=Path, required=True, help="sandbox directory standing in for the device's /")
    p.add_argument("--mode", choices=MODES, default="normal")
    p.add_argument("--model", default="OFA-Test-Phone", help="ro.product.model")
    p.add_argument("--name", default="ofatest", help="ro.product.name and ro.product.device")
    p.add_argument("--hot-reads", type=int, default=3, help="hot mode: thermal reads that report 85 °C")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    asyncio.run(serve(a.port, Device(a.root, a.mode, a.model, a.name, a.hot_reads)))


if __name__ == "__main__":
    main()
