"""The model card as a TFLite metadata entry: a named buffer in the flatbuffer's `metadata`
list, which interpreters ignore and `read_card` gives back."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ofa_deploy.deploy.card import CARD_KEY
from ofa_deploy.fileio import atomic_write_bytes
from ofa_deploy.errors import FileFormatError


def write_card(path: Path, card: dict[str, Any], key: str = CARD_KEY) -> None:
    """Embed `card` as JSON under metadata entry `key`, replacing an earlier one."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    if any(getattr(b, "offset", 0) for b in model.buffers):
        raise FileFormatError(f"{path} keeps its weights outside the flatbuffer (a >2 GB layout); embedding a card "
                         f"would drop them — keep the card in the .json sidecar only")
    model.metadata = [m for m in (model.metadata or []) if _name(m) != key]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(card).encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = key, len(model.buffers) - 1
    model.metadata.append(entry)
    atomic_write_bytes(path, bytes(flatbuffer_utils.convert_object_to_bytearray(model)))


def read_card(path: str | Path, key: str = CARD_KEY) -> dict[str, Any]:
    """The card stored under metadata entry `key` ({} when there is none)."""
    from ai_edge_litert import schema_py_generated as schema

    buf = Path(path).read_bytes()
    model = schema.Model.GetRootAs(buf, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() == key:
            return json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
    return {}


def _name(entry) -> str:
    name = entry.name
    return name.decode() if isinstance(name, bytes) else name
