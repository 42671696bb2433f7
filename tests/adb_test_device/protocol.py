"""The adb wire protocol as a device speaks it: 24-byte little-endian headers (command, arg0,
arg1, payload length, payload byte sum, command XOR 0xFFFFFFFF) followed by the payload."""
from __future__ import annotations

import asyncio
import struct

CNXN, OPEN, OKAY, WRTE, CLSE, AUTH = (b"CNXN", b"OPEN", b"OKAY", b"WRTE", b"CLSE", b"AUTH")
VERSION = 0x01000000          # the checksummed version: every host understands it
MAX_PAYLOAD = 256 * 1024
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3
_HEADER = struct.Struct("<6I")


def pack(command: bytes, arg0: int, arg1: int, payload: bytes = b"") -> bytes:
    """One message, header and payload."""
    code = int.from_bytes(command, "little")
    return _HEADER.pack(code, arg0, arg1, len(payload), sum(payload) & 0xFFFFFFFF, code ^ 0xFFFFFFFF) + payload


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, int, int, bytes]:
    """The next message as (command, arg0, arg1, payload); raises IncompleteReadError at EOF."""
    code, arg0, arg1, length, _sum, magic = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if magic != code ^ 0xFFFFFFFF:
        raise ConnectionError(f"bad adb message magic {magic:#x} for command {code:#x}")
    return code.to_bytes(4, "little"), arg0, arg1, await reader.readexactly(length)


class Stream:
    """One OPENed service stream: WRTE with flow control (one unacknowledged WRTE at a time),
    incoming bytes as an asyncio StreamReader."""

    def __init__(self, conn, local_id: int, remote_id: int):
        self.conn, self.local_id, self.remote_id = conn, local_id, remote_id
        self.incoming = asyncio.StreamReader()
        self.acked = asyncio.Event()
        self.closed = False

    async def write(self, data: bytes) -> None:
        """Send `data` in WRTE messages no larger than the host accepts, waiting for each OKAY."""
        for i in range(0, len(data), self.conn.max_payload):
            if self.closed:
                return
            self.acked.clear()
            self.conn.send(pack(WRTE, self.local_id, self.remote_id, data[i:i + self.conn.max_payload]))
            await self.acked.wait()

    def close(self) -> None:
        """Send CLSE once."""
        if not self.closed:
            self.closed = True
            self.conn.send(pack(CLSE, self.local_id, self.remote_id))
            self.acked.set()
