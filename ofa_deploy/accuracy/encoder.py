"""Arch → feature vector for the accuracy predictor, vectorized over ArchBatch.

The official OFA-MobileNetV3 encoding (128 features) is this layout:
kernel one-hot per block (20 × 3 for 3/5/7), expand one-hot per block (20 × 3 for 3/4/6), both
all-zero for blocks a stage's depth skips, then a resolution one-hot of 8 at (r − 112) // 16.
Other spaces use the same layout with their own block count and choices, a resolution one-hot
over their own range (and, for spaces with elastic width, a width one-hot per group at the end).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from ..arch import ArchBatch, ArchConfig, SearchSpace
from ..errors import ArchError, BadArgumentError

# The official predictor's resolution buckets: 112, 128, …, 224 (+15 each).
OFFICIAL_R_BASE, OFFICIAL_R_STEP, OFFICIAL_N_R = 112, 16, 8


@dataclass(frozen=True)
class ArchEncoder:
    """Feature layout for one space: [ks one-hot | e one-hot | r one-hot | w one-hot]."""

    n_blocks: int
    ks_choices: tuple[int, ...]
    e_choices: tuple[float, ...]
    r_base: int
    r_step: int
    n_r: int
    w_choices: tuple[int, ...] = ()
    n_w: int = 0

    @classmethod
    def for_space(cls, space: SearchSpace) -> "ArchEncoder":
        """The official layout for OFA-MobileNetV3 spaces; a resolution one-hot over the space's
        range (min..max in its resolution step) for any other space."""
        if (space.n_blocks, tuple(space.ks_choices), tuple(space.e_choices)) == (20, (3, 5, 7), (3, 4, 6)) \
                and not space.n_w:
            return cls(20, (3, 5, 7), (3, 4, 6), OFFICIAL_R_BASE, OFFICIAL_R_STEP, OFFICIAL_N_R)
        n_r = (space.max_resolution - space.min_resolution) // space.resolution_step + 1
        return cls(space.n_blocks, tuple(space.ks_choices), tuple(space.e_choices), space.min_resolution,
                   space.resolution_step, n_r, tuple(space.w_choices), space.n_w)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ArchEncoder":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def n_features(self) -> int:
        n_ks = len(self.ks_choices) if self.ks_choices else 0
        return self.n_blocks * (n_ks + len(self.e_choices)) + self.n_r + self.n_w * len(self.w_choices)

    @property
    def resolution_range(self) -> tuple[int, int]:
        """The lowest and highest resolution that falls in a bucket."""
        return self.r_base, self.r_base + self.n_r * self.r_step - 1

    def fits(self, space: SearchSpace) -> bool:
        """Whether archs of `space` have the genes this layout encodes."""
        return (space.n_blocks == self.n_blocks and tuple(space.e_choices) == tuple(self.e_choices)
                and tuple(space.ks_choices) == tuple(self.ks_choices) and space.n_w == self.n_w)

    def check_resolutions(self, resolutions: Sequence[int]) -> None:
        """Raise ArchError if a resolution falls outside the buckets the predictor was trained on."""
        lo, hi = self.resolution_range
        bad = sorted({int(r) for r in resolutions if not lo <= int(r) <= hi})
        if bad:
            raise ArchError(f"resolution(s) {bad} are outside this accuracy predictor's range {lo}..{hi}; "
                            f"search resolutions inside it, or train a predictor that covers them")

    def encode(self, archs: ArchConfig | Sequence[ArchConfig] | ArchBatch, space: SearchSpace | None = None
               ) -> np.ndarray:
        """[N, n_features] float32 features (one row for a single arch)."""
        if not isinstance(archs, ArchBatch):
            if space is None:
                raise BadArgumentError("encoding ArchConfig objects needs their space: pass space=SearchSpace")
            archs = ArchBatch.from_archs(space, [archs] if isinstance(archs, ArchConfig) else archs)
        return self.encode_batch(archs)

    def encode_batch(self, batch: ArchBatch) -> np.ndarray:
        nb = self.n_blocks
        if batch.e.shape[1] != nb:
            raise ArchError(f"this encoder expects {nb} blocks, the archs have {batch.e.shape[1]} "
                            f"({batch.space.name}); use a predictor made for that space")
        r_idx = (batch.r - self.r_base) // self.r_step
        if ((r_idx < 0) | (r_idx >= self.n_r)).any():
            self.check_resolutions(batch.r.tolist())
        return self.features(batch.active_mask(), _index_of(batch.e, self.e_choices, "expand ratio"), r_idx,
                             _index_of(batch.ks, self.ks_choices, "kernel size") if self.ks_choices else None,
                             _index_of(batch.w, self.w_choices, "width") if self.n_w else None)

    def features(self, active: np.ndarray, e_idx: np.ndarray, r_idx: np.ndarray,
                 k_idx: np.ndarray | None = None, w_idx: np.ndarray | None = None) -> np.ndarray:
        """The one home of the feature layout: [N, n_features] float32 from positions in this
        encoder's choices — e_idx/k_idx [N, n_blocks], r_idx [N] (resolution bucket), w_idx [N, n_w].
        The ones are set by flat index, a skipped block's in a spare last column that is dropped."""
        n, nb = len(active), self.n_blocks
        width = self.n_features + 1
        out = np.zeros((n, width), dtype=np.float32)
        flat = out.reshape(-1)
        row = np.arange(0, n * width, width)[:, None]
        spare, blocks = row + (width - 1), np.arange(nb)
        col = 0
        if self.ks_choices:
            flat[np.where(active, row + (col + blocks * len(self.ks_choices)) + k_idx, spare)] = 1.0
            col += nb * len(self.ks_choices)
        flat[np.where(active, row + (col + blocks * len(self.e_choices)) + e_idx, spare)] = 1.0
        col += nb * len(self.e_choices)
        flat[row[:, 0] + col + r_idx] = 1.0
        col += self.n_r
        if self.n_w:
            flat[row + col + np.arange(self.n_w)[None, :] * len(self.w_choices) + w_idx] = 1.0
        return np.ascontiguousarray(out[:, :-1])


def _index_of(values: np.ndarray, choices: Sequence, what: str) -> np.ndarray:
    """Position of each value in `choices`, failing on a value the encoder does not know."""
    ch = np.asarray(choices, dtype=np.float64)
    order = np.argsort(ch)
    pos = np.clip(np.searchsorted(ch[order], values), 0, len(ch) - 1)
    idx = order[pos]
    if not np.array_equal(ch[idx], values.astype(np.float64)):
        bad = values[ch[idx] != values.astype(np.float64)][0]
        raise ArchError(f"{what} {bad} is not one the accuracy predictor encodes; expected one of {list(choices)}")
    return idx
