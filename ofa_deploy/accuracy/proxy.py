"""A MACs-based stand-in for an accuracy predictor, for spaces that have none.

More compute usually buys accuracy inside one supernet, so ranking archs by MACs picks the
largest subnet that meets the other constraints. It predicts no accuracy: its score is
log10(MACs), and models found with it say so in their card (`is_accuracy` is False)."""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from ..arch import ArchBatch, ArchConfig


class MacsProxy:
    """score(arch) = log10(MACs): a ranking proxy, not an accuracy."""

    is_accuracy = False
    source = "proxy"

    def __init__(self, supernet: str):
        from ..registry import get_supernet_record

        self.record = get_supernet_record(supernet)
        self.supernet, self.space = self.record.name, self.record.space
        self.provenance = {"kind": "macs-proxy", "note": "log10(MACs) ranks archs; it is not a top-1 estimate"}

    def predict(self, archs: ArchConfig | Sequence[ArchConfig] | ArchBatch) -> float | np.ndarray:
        """log10 of the MACs of one arch (a float) or many (an array)."""
        from ..profile import count_macs

        single = isinstance(archs, ArchConfig)
        macs = np.atleast_1d(np.asarray(count_macs(self.supernet, archs), dtype=np.float64))
        out = np.log10(np.maximum(macs, 1.0))
        return float(out[0]) if single else out

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"macs-proxy:{self.supernet}".encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "supernet": self.supernet, "fingerprint": self.fingerprint[:16],
                **self.provenance}
