"""ArchConfig: one subnet of an elastic space (kernel sizes, expand ratios, depths, resolution,
optional widths), and SearchSpace: which values each gene may take.

This module owns architecture validity (the checks themselves live in `arch_checks`). Everything
else (supernets, predictors, search, export) asks it. ArchBatch holds many archs as arrays, for
vectorized predictors and search.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from collections.abc import Iterable, Mapping
from typing import Any, Sequence

import numpy as np

from . import arch_checks as checks
from .arch_checks import check_gene, subnet_genes  # noqa: F401  (re-exported: supernets use them)
from .errors import ArchError

Rng = "np.random.Generator | int | None"


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of `divisor`, never more than 10 % below `v` (official rule)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


def as_rng(rng: Any = None) -> np.random.Generator:
    """A numpy Generator from a seed, a Generator, or None (fresh entropy)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


@dataclass(frozen=True)
class SearchSpace:
    """The genes of an elastic supernet and the values each may take.

    ks and e have one gene per elastic block; d one gene per depth group; w one gene per width group.
    A stage s keeps min(stage_base[s] + d[s + d_offset], stage_depths[s]) of its blocks.
    """

    name: str
    ks_choices: tuple[int, ...]
    e_choices: tuple[float, ...]
    d_choices: tuple[int, ...]
    stage_depths: tuple[int, ...]
    resolutions: tuple[int, ...]
    min_resolution: int
    max_resolution: int
    resolution_step: int = 4
    stage_base: tuple[int, ...] = ()
    d_offset: int = 0
    n_d: int = 0
    w_choices: tuple[int, ...] = ()
    n_w: int = 0

    def __post_init__(self):
        if not self.stage_base:
            object.__setattr__(self, "stage_base", (0,) * len(self.stage_depths))
        if not self.n_d:
            object.__setattr__(self, "n_d", len(self.stage_depths) + self.d_offset)

    # ---- derived shape of the gene vectors -------------------------------------------------
    @property
    def n_blocks(self) -> int:
        return sum(self.stage_depths)

    @property
    def n_ks(self) -> int:
        return self.n_blocks if self.ks_choices else 0

    @property
    def n_stages(self) -> int:
        return len(self.stage_depths)

    @property
    def block_stage(self) -> tuple[int, ...]:
        return tuple(s for s, n in enumerate(self.stage_depths) for _ in range(n))

    @property
    def block_position(self) -> tuple[int, ...]:
        """Index of each block inside its stage (0 = the stage's first block)."""
        return tuple(i for n in self.stage_depths for i in range(n))

    def depth_of_stages(self, d: Sequence[int]) -> list[int]:
        """How many blocks each stage runs for depth genes `d`."""
        return [min(b + d[s + self.d_offset], m)
                for s, (b, m) in enumerate(zip(self.stage_base, self.stage_depths))]

    def valid_resolution(self, r: int) -> bool:
        return (self.min_resolution <= r <= self.max_resolution
                and (r - self.min_resolution) % self.resolution_step == 0)

    def check_resolutions(self, resolutions: Any, name: str = "resolutions") -> tuple[int, ...]:
        """Validate user-given resolutions (a number or a list): whole numbers on the space's grid.
        Raises ArchError naming `name`, the bad value and the grid."""
        return checks.check_resolutions(self, resolutions, name)

    def grid_text(self) -> str:
        return (f"{self.min_resolution}..{self.max_resolution} in steps of {self.resolution_step} "
                f"(search default {list(self.resolutions)})")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "ks": list(self.ks_choices), "e": list(self.e_choices),
                "d": list(self.d_choices), "w": list(self.w_choices), "blocks": self.n_blocks,
                "stages": list(self.stage_depths), "resolutions": list(self.resolutions),
                "resolution_range": [self.min_resolution, self.max_resolution, self.resolution_step]}

    # ---- sampling ------------------------------------------------------------------------
    def sample(self, rng: Any = None, resolutions: Sequence[int] | None = None) -> "ArchConfig":
        return ArchBatch.sample(self, 1, rng, resolutions).to_archs()[0]

    def largest(self, r: int | None = None) -> "ArchConfig":
        return self._extreme(max, r if r is not None else max(self.resolutions))

    def smallest(self, r: int | None = None) -> "ArchConfig":
        return self._extreme(min, r if r is not None else min(self.resolutions))

    def _extreme(self, pick, r: int) -> "ArchConfig":
        return ArchConfig(ks=(pick(self.ks_choices),) * self.n_ks if self.ks_choices else (),
                          e=(pick(self.e_choices),) * self.n_blocks, d=(pick(self.d_choices),) * self.n_d,
                          r=r, w=(pick(self.w_choices),) * self.n_w if self.n_w else ())


@dataclass(frozen=True)
class ArchConfig:
    """One subnet: per-block kernel sizes and expand ratios, per-stage depths, input resolution,
    and (for spaces with elastic width) per-group width choices."""

    ks: tuple[int, ...]
    e: tuple[float, ...]
    d: tuple[int, ...]
    r: int
    w: tuple[int, ...] = field(default=())

    def __post_init__(self):
        for name, integer in (("ks", True), ("e", False), ("d", True), ("w", True)):
            object.__setattr__(self, name, checks.as_genes(name, getattr(self, name), integer))
        object.__setattr__(self, "r", checks.as_gene("r", self.r, integer=True))

    # ---- validation ----------------------------------------------------------------------
    def validate(self, space: SearchSpace) -> "ArchConfig":
        """Raise ArchError naming the first gene that does not fit `space`; return self otherwise."""
        checks.validate_arch(self, space)
        return self

    @classmethod
    def coerce(cls, arch: Any, space: SearchSpace | None = None, r: int | None = None) -> "ArchConfig":
        """The one converter for user archs: an ArchConfig, our dict, the official dict ({ks, e, d,
        r or image_size, r possibly [r]}), its JSON text or the printed short form; validated against
        `space` when given. `r` is the resolution of a dict that has none."""
        if isinstance(arch, cls):
            out = arch
        elif isinstance(arch, Mapping):
            out = cls.from_dict(arch, r)
        elif isinstance(arch, str):   # JSON text or the printed short form
            out = cls.from_dict(checks.json_mapping(arch), r) if checks.is_json_text(arch) else cls.parse(arch)
        else:
            raise ArchError(f"expected an arch (ArchConfig, or a dict with keys ks, e, d, r), got "
                            f"{type(arch).__name__} {str(arch)[:60]}")
        return out.validate(space) if space is not None else out

    # ---- structure -----------------------------------------------------------------------
    def active_blocks(self, space: SearchSpace) -> list[int]:
        """Indices of the elastic blocks this arch runs."""
        depths, out, start = space.depth_of_stages(self.d), [], 0
        for n_max, n in zip(space.stage_depths, depths):
            out.extend(range(start, start + n))
            start += n_max
        return out

    def canonical(self, space: SearchSpace) -> "ArchConfig":
        """The same network with the genes of skipped blocks set to the first choice, so that
        archs that build identical nets compare equal."""
        act = set(self.active_blocks(space))
        ks = tuple(k if i in act else space.ks_choices[0] for i, k in enumerate(self.ks))
        e = tuple(x if i in act else space.e_choices[0] for i, x in enumerate(self.e))
        return ArchConfig(ks=ks, e=e, d=self.d, r=self.r, w=self.w)

    # ---- evolution helpers ---------------------------------------------------------------
    def mutate(self, space: SearchSpace, rng: Any = None, prob: float = 0.1,
               r_prob: float = 0.5, resolutions: Sequence[int] | None = None) -> "ArchConfig":
        batch = ArchBatch.from_archs(space, [self])
        return batch.mutate(rng, prob, r_prob, resolutions).to_archs()[0]

    def crossover(self, other: "ArchConfig", space: SearchSpace, rng: Any = None) -> "ArchConfig":
        a, b = ArchBatch.from_archs(space, [self]), ArchBatch.from_archs(space, [other])
        return a.crossover(b, rng).to_archs()[0]

    # ---- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ks": list(self.ks), "e": list(self.e), "d": list(self.d), "r": self.r}
        if self.w:
            out["w"] = list(self.w)
        return out

    def to_official(self) -> dict[str, Any]:
        """The official search-code form: {ks, e, d, r: [r]} (plus w for ResNet spaces)."""
        out = self.to_dict()
        out["r"] = [self.r]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], r: int | None = None) -> "ArchConfig":
        """Accept our dict or the official one ({ks, e, d, r: [r]}, or without r when `r` is given)."""
        return cls(**checks.dict_fields(d, r))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "ArchConfig":
        return cls.from_dict(checks.json_mapping(text))

    def short(self) -> str:
        """A compact one-line form for logs and tables; `ArchConfig.parse` reads it back."""
        return checks.short_form(self)

    @classmethod
    def parse(cls, text: str) -> "ArchConfig":
        """The arch written by `short()` (r224-d234…-k357…-e346…[-w012]; fractional expand ratios
        joined by '_'), or JSON / an official dict's JSON text."""
        text = str(text).strip()
        if text.startswith("{"):
            return cls.coerce(text)
        return cls(**checks.parse_short(text))


@dataclass
class ArchBatch:
    """N archs of one space as arrays: ks/e [N, n_blocks], d [N, n_d], w [N, n_w], r [N]."""

    space: SearchSpace
    ks: np.ndarray
    e: np.ndarray
    d: np.ndarray
    r: np.ndarray
    w: np.ndarray

    checked: bool = field(default=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.r)

    def validate(self) -> "ArchBatch":
        """Vectorized check that every gene is one of the space's choices and every resolution on its
        grid; raises ArchError naming the first bad arch, gene and value. Marks the batch checked, so
        search validates once at the door and not per generation."""
        if not self.checked:
            checks.validate_batch(self)
        self.checked = True
        return self

    @classmethod
    def coerce(cls, space: SearchSpace, archs: Any) -> tuple["ArchBatch", bool]:
        """(validated batch, whether `archs` was a single arch) from one arch in any form ArchConfig.coerce
        takes, a sequence of them, or an ArchBatch (checked once, vectorized)."""
        if isinstance(archs, ArchBatch):
            return archs.validate(), False
        single = isinstance(archs, (ArchConfig, Mapping, str))
        items = [archs] if single else (list(archs) if isinstance(archs, Iterable) else [archs])
        batch = cls.from_archs(space, [ArchConfig.coerce(a, space) for a in items])
        batch.checked = True
        return batch, single

    def __getitem__(self, idx) -> "ArchBatch":
        idx = np.atleast_1d(np.arange(len(self))[idx])
        return ArchBatch(self.space, self.ks[idx], self.e[idx], self.d[idx], self.r[idx], self.w[idx],
                         checked=self.checked)

    @classmethod
    def from_archs(cls, space: SearchSpace, archs: Iterable[ArchConfig]) -> "ArchBatch":
        archs = list(archs)
        n = len(archs)
        return cls(space,
                   np.array([a.ks for a in archs], dtype=np.int64).reshape(n, space.n_ks),
                   np.array([a.e for a in archs], dtype=np.float64).reshape(n, space.n_blocks),
                   np.array([a.d for a in archs], dtype=np.int64).reshape(n, space.n_d),
                   np.array([a.r for a in archs], dtype=np.int64).reshape(n),
                   np.array([a.w for a in archs], dtype=np.int64).reshape(n, space.n_w))

    def to_archs(self) -> list[ArchConfig]:
        return [ArchConfig(ks=tuple(self.ks[i].tolist()), e=tuple(self.e[i].tolist()),
                           d=tuple(self.d[i].tolist()), r=int(self.r[i]), w=tuple(self.w[i].tolist()))
                for i in range(len(self))]

    @classmethod
    def concat(cls, batches: Sequence["ArchBatch"]) -> "ArchBatch":
        b0 = batches[0]
        return cls(b0.space, *(np.concatenate([getattr(b, f) for b in batches])
                               for f in ("ks", "e", "d", "r", "w")), checked=all(b.checked for b in batches))

    @classmethod
    def sample(cls, space: SearchSpace, n: int, rng: Any = None,
               resolutions: Sequence[int] | None = None) -> "ArchBatch":
        g = as_rng(rng)
        pick = lambda choices, shape: np.asarray(choices)[g.integers(0, len(choices), shape)] \
            if len(choices) else np.zeros(shape, dtype=np.int64)
        return cls(space,
                   pick(space.ks_choices, (n, space.n_ks)).astype(np.int64),
                   pick(space.e_choices, (n, space.n_blocks)).astype(np.float64),
                   pick(space.d_choices, (n, space.n_d)).astype(np.int64),
                   pick(resolutions or space.resolutions, (n,)).astype(np.int64),
                   pick(space.w_choices, (n, space.n_w)).astype(np.int64), checked=checks.on_grid(space, resolutions))

    def mutate(self, rng: Any = None, prob: float = 0.1, r_prob: float = 0.5,
               resolutions: Sequence[int] | None = None) -> "ArchBatch":
        """Resample each gene with probability `prob` and the resolution with `r_prob`."""
        g, fresh = as_rng(rng), None
        fresh = ArchBatch.sample(self.space, len(self), g, resolutions)
        out = {}
        for f in ("ks", "e", "d", "w"):
            old, new = getattr(self, f), getattr(fresh, f)
            out[f] = np.where(g.random(old.shape) < prob, new, old)
        out["r"] = np.where(g.random(self.r.shape) < r_prob, fresh.r, self.r)
        return ArchBatch(self.space, **out, checked=self.checked and checks.on_grid(self.space, resolutions))

    def crossover(self, other: "ArchBatch", rng: Any = None) -> "ArchBatch":
        """Uniform crossover: each gene from self or other with equal chance."""
        g = as_rng(rng)
        out = {f: np.where(g.random(getattr(self, f).shape) < 0.5, getattr(self, f), getattr(other, f))
               for f in ("ks", "e", "d", "r", "w")}
        return ArchBatch(self.space, **out, checked=self.checked and other.checked)

    def active_mask(self) -> np.ndarray:
        """[N, n_blocks] bool: which elastic blocks each arch runs."""
        sp = self.space
        base = np.asarray(sp.stage_base)[None, :]
        dd = self.d[:, sp.d_offset:sp.d_offset + sp.n_stages]
        depth = np.minimum(base + dd, np.asarray(sp.stage_depths)[None, :])  # [N, S]
        stage = np.asarray(sp.block_stage)
        pos = np.asarray(sp.block_position)
        return pos[None, :] < depth[:, stage]
