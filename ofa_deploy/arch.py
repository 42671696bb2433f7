"""ArchConfig: one subnet of an elastic space (kernel sizes, expand ratios, depths, resolution,
optional widths), and SearchSpace: which values each gene may take.

This module owns architecture validity. Everything else (supernets, predictors, search, export)
asks it. ArchBatch holds many archs as arrays, for vectorized predictors and search.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

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


def _num(v: Any) -> int | float:
    v = float(v)
    return int(v) if v.is_integer() else v


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
        object.__setattr__(self, "ks", tuple(int(k) for k in self.ks))
        object.__setattr__(self, "e", tuple(_num(x) for x in self.e))
        object.__setattr__(self, "d", tuple(int(x) for x in self.d))
        object.__setattr__(self, "w", tuple(int(x) for x in self.w))
        object.__setattr__(self, "r", int(self.r))

    # ---- validation ----------------------------------------------------------------------
    def validate(self, space: SearchSpace) -> "ArchConfig":
        """Raise ArchError naming the first gene that does not fit `space`; return self otherwise."""
        genes = [("ks", self.ks, space.n_ks, space.ks_choices, "one per block"),
                 ("e", self.e, space.n_blocks, space.e_choices, "one per block"),
                 ("d", self.d, space.n_d, space.d_choices, "one per stage"),
                 ("w", self.w, space.n_w, space.w_choices, "one per width group")]
        for name, values, n, choices, what in genes:
            if len(values) != n:
                raise ArchError(f"arch for {space.name}: {name} has {len(values)} values, expected {n} "
                                f"({what}); got {list(values)}")
            bad = [(i, v) for i, v in enumerate(values) if v not in choices]
            if bad:
                i, v = bad[0]
                raise ArchError(f"arch for {space.name}: {name}[{i}] = {v} is not in the space; "
                                f"allowed values are {list(choices)}")
        if not space.valid_resolution(self.r):
            raise ArchError(f"arch for {space.name}: resolution {self.r} is outside the space; use "
                            f"{space.min_resolution}..{space.max_resolution} in steps of "
                            f"{space.resolution_step} (search default {list(space.resolutions)})")
        return self

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
        missing = [k for k in ("e", "d") if k not in d]
        if missing:
            raise ArchError(f"arch dict lacks {missing}; expected keys ks, e, d, r (got {sorted(d)})")
        res = d.get("r", d.get("image_size", r))
        if isinstance(res, (list, tuple)):
            res = res[0] if res else None
        if res is None:
            raise ArchError("arch dict has no resolution: add 'r' (an int, or a one-element list as "
                            "the official code writes it)")
        return cls(ks=tuple(d.get("ks", ())), e=tuple(d["e"]), d=tuple(d["d"]), r=res,
                   w=tuple(d.get("w", ())))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "ArchConfig":
        return cls.from_dict(json.loads(text))

    def short(self) -> str:
        """A compact one-line form for logs and tables."""
        ks = "".join(map(str, self.ks))
        e = "".join(str(x) if isinstance(x, int) else f"{x:g}" for x in self.e)
        s = f"r{self.r}-d{''.join(map(str, self.d))}-k{ks}-e{e}"
        return s + (f"-w{''.join(map(str, self.w))}" if self.w else "")


@dataclass
class ArchBatch:
    """N archs of one space as arrays: ks/e [N, n_blocks], d [N, n_d], w [N, n_w], r [N]."""

    space: SearchSpace
    ks: np.ndarray
    e: np.ndarray
    d: np.ndarray
    r: np.ndarray
    w: np.ndarray

    def __len__(self) -> int:
        return len(self.r)

    def __getitem__(self, idx) -> "ArchBatch":
        idx = np.atleast_1d(np.arange(len(self))[idx])
        return ArchBatch(self.space, self.ks[idx], self.e[idx], self.d[idx], self.r[idx], self.w[idx])

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
                               for f in ("ks", "e", "d", "r", "w")))

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
                   pick(space.w_choices, (n, space.n_w)).astype(np.int64))

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
        return ArchBatch(self.space, **out)

    def crossover(self, other: "ArchBatch", rng: Any = None) -> "ArchBatch":
        """Uniform crossover: each gene from self or other with equal chance."""
        g = as_rng(rng)
        out = {f: np.where(g.random(getattr(self, f).shape) < 0.5, getattr(self, f), getattr(other, f))
               for f in ("ks", "e", "d", "r", "w")}
        return ArchBatch(self.space, **out)

    def active_mask(self) -> np.ndarray:
        """[N, n_blocks] bool: which elastic blocks each arch runs."""
        sp = self.space
        base = np.asarray(sp.stage_base)[None, :]
        dd = self.d[:, sp.d_offset:sp.d_offset + sp.n_stages]
        depth = np.minimum(base + dd, np.asarray(sp.stage_depths)[None, :])  # [N, S]
        stage = np.asarray(sp.block_stage)
        pos = np.asarray(sp.block_position)
        return pos[None, :] < depth[:, stage]
