"""The `sync:` service (adb push / pull / ls): 8-byte requests (4-byte id, little-endian length).
SEND path,mode → DATA… → DONE mtime; STAT; LIST; RECV; QUIT."""
from __future__ import annotations

import os
import struct

from .protocol import Stream
from .sandbox import Sandbox

_MAX_DATA = 64 * 1024


async def serve_sync(stream: Stream, sandbox: Sandbox) -> None:
    """Answer sync requests until QUIT or the host closes the stream."""
    r = stream.incoming
    while True:
        try:
            ident, length = struct.unpack("<4sI", await r.readexactly(8))
        except Exception:
            return
        if ident == b"QUIT":
            return
        if ident == b"SEND":
            spec = (await r.readexactly(length)).decode()
            await _receive_file(stream, sandbox, spec)
            continue
        path = (await r.readexactly(length)).decode()
        handler = {b"STAT": _stat, b"LIST": _list, b"RECV": _send_file}.get(ident)
        if handler is None:
            await _fail(stream, f"unknown sync request {ident!r}")
            return
        await handler(stream, sandbox, path)


async def _stat(stream: Stream, sandbox: Sandbox, path: str) -> None:
    try:
        st = os.stat(sandbox.host_path(path))
        await stream.write(struct.pack("<4sIII", b"STAT", st.st_mode, st.st_size, int(st.st_mtime)))
    except (OSError, ValueError):
        await stream.write(struct.pack("<4sIII", b"STAT", 0, 0, 0))


async def _list(stream: Stream, sandbox: Sandbox, path: str) -> None:
    out = b""
    try:
        for entry in os.scandir(sandbox.host_path(path)):
            st, name = entry.stat(), entry.name.encode()
            out += struct.pack("<4sIIII", b"DENT", st.st_mode, st.st_size, int(st.st_mtime), len(name)) + name
    except (OSError, ValueError):
        pass
    await stream.write(out + struct.pack("<4sIIII", b"DONE", 0, 0, 0, 0))


async def _send_file(stream: Stream, sandbox: Sandbox, path: str) -> None:
    try:
        data = sandbox.host_path(path).read_bytes()
    except (OSError, ValueError) as exc:
        await _fail(stream, f"remote object '{path}' does not exist ({exc.__class__.__name__})")
        return
    chunks = [data[i:i + _MAX_DATA] for i in range(0, len(data), _MAX_DATA)]
    out = b"".join(struct.pack("<4sI", b"DATA", len(c)) + c for c in chunks)
    await stream.write(out + struct.pack("<4sI", b"DONE", 0))


async def _receive_file(stream: Stream, sandbox: Sandbox, spec: str) -> None:
    path, _, mode = spec.rpartition(",")
    r = stream.incoming
    parts = []
    while True:
        ident, length = struct.unpack("<4sI", await r.readexactly(8))
        if ident == b"DONE":
            break
        if ident != b"DATA":
            await _fail(stream, f"expected DATA or DONE, got {ident!r}")
            return
        parts.append(await r.readexactly(length))
    try:
        sandbox.write_file(path, b"".join(parts), int(mode or "0644") & 0o777)
    except (OSError, ValueError) as exc:
        await _fail(stream, f"couldn't create file: {exc}")
        return
    await stream.write(struct.pack("<4sI", b"OKAY", 0))


async def _fail(stream: Stream, message: str) -> None:
    data = message.encode()
    await stream.write(struct.pack("<4sI", b"FAIL", len(data)) + data)
