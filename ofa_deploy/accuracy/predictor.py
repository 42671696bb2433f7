"""The accuracy predictor: the official MLP (n_in → 400 → 400 → 400 → 1, ReLU between, an
nn.Sequential with state-dict keys 0.*, 2.*, 4.*, 6.*) over an ArchEncoder's features; output is
top-1 as a fraction. Prediction is batched: one forward for a whole ArchBatch."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..arch import ArchBatch, ArchConfig, SearchSpace
from ..fileio import atomic_path
from .encoder import ArchEncoder
from ..errors import BadArgumentError, FileFormatError

SOURCES = ("official", "trained", "proxy")


def build_mlp(n_in: int, hidden: int = 400, n_hidden: int = 3) -> nn.Sequential:
    """The official predictor network: n_hidden Linear+ReLU pairs, then Linear(hidden, 1)."""
    layers: list[nn.Module] = []
    for i in range(n_hidden):
        layers += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, 1))


def mlp_shape(state_dict: dict[str, torch.Tensor]) -> tuple[int, int, int]:
    """(n_in, hidden, n_hidden) of an official-layout MLP state dict."""
    weights = sorted((int(k.split(".")[0]), v) for k, v in state_dict.items() if k.endswith(".weight"))
    if not weights or any(v.ndim != 2 for _, v in weights) or weights[-1][1].shape[0] != 1:
        raise FileFormatError(f"not an accuracy-predictor MLP state dict (keys {sorted(state_dict)[:6]}); expected "
                         f"an nn.Sequential of Linear layers ending in one output (keys 0.*, 2.*, 4.*, 6.*)")
    return int(weights[0][1].shape[1]), int(weights[0][1].shape[0]), len(weights) - 1


class AccuracyPredictor:
    """Predicted top-1 (a fraction) of archs of one space, from an MLP over encoded archs."""

    is_accuracy = True

    def __init__(self, model: nn.Sequential, encoder: ArchEncoder, space: SearchSpace | None = None,
                 supernet: str | None = None, source: str = "trained", provenance: dict[str, Any] | None = None):
        if source not in SOURCES:
            raise BadArgumentError(f"source must be one of {SOURCES}, not {source!r}")
        n_in = model[0].in_features
        if n_in != encoder.n_features:
            raise BadArgumentError(f"the MLP takes {n_in} features but the encoder makes {encoder.n_features}; "
                             f"the predictor belongs to another space (expected {encoder.n_features} inputs)")
        self.model, self.encoder, self.space = model.eval(), encoder, space
        self.supernet, self.source = supernet, source
        self.provenance = dict(provenance or {})
        self._np: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    # ---- prediction ------------------------------------------------------------------------
    def predict(self, archs: ArchConfig | Sequence[ArchConfig] | ArchBatch) -> float | np.ndarray:
        """Predicted top-1 fraction: a float for one arch, an array for a list or a batch."""
        single = isinstance(archs, ArchConfig)
        feats = self.encoder.encode(archs, self.space) if not isinstance(archs, ArchBatch) \
            else self.encoder.encode_batch(archs)
        out = self.forward_features(feats)
        return float(out[0]) if single else out

    def forward_features(self, feats: np.ndarray) -> np.ndarray:
        """The MLP on encoded features, float32, weights pre-transposed, one fused matmul + bias
        (torch.addmm: ~25 % faster than numpy's for the search's batches of a few dozen rows)."""
        if self._np is None:
            self._np = [(torch.from_numpy(m.weight.detach().numpy().T.copy()),
                         torch.from_numpy(m.bias.detach().numpy().copy()))
                        for m in self.model if isinstance(m, nn.Linear)]
        x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))
        last = len(self._np) - 1
        # the weight copies need no gradient, so no graph is recorded (and no grad-mode switch,
        # ~10 % of a call on the search's small batches, is needed)
        for i, (w, b) in enumerate(self._np):
            x = torch.addmm(b, x, w)
            if i < last:
                x.relu_()
        return x[:, 0].numpy().astype(np.float64)

    def refresh(self) -> None:
        """Drop the numpy copy of the weights (call after training the torch model in place)."""
        self._np = None

    # ---- identity and files ----------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """sha256 over the weights and the encoding: equal fingerprints predict identically.
        Kept until a weight changes (torch counts in-place updates in each tensor's version)."""
        state = self.model.state_dict()
        stamp = (repr(self.encoder.to_dict()),) + tuple((k, v.data_ptr(), v._version) for k, v in state.items())
        if getattr(self, "_fp", (None,))[0] != stamp:
            h = hashlib.sha256(stamp[0].encode())
            for k, v in state.items():
                h.update(k.encode())
                h.update(v.detach().cpu().numpy().tobytes())
            self._fp = (stamp, h.hexdigest())
        return self._fp[1]

    def describe(self) -> dict[str, Any]:
        """What the card says about this predictor."""
        return {"source": self.source, "supernet": self.supernet, "features": self.encoder.n_features,
                "fingerprint": self.fingerprint[:16], **self.provenance}

    def save(self, path: str | Path, official: bool = False) -> Path:
        """Write the checkpoint: ours carries the encoder and provenance; `official=True` writes the
        bare state dict the official code loads."""
        obj: dict[str, Any] = dict(self.model.state_dict())
        if not official:
            obj = {"state_dict": obj, "encoder": self.encoder.to_dict(), "supernet": self.supernet,
                   "source": self.source, "provenance": self.provenance}
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
        return Path(path)
