"""The progressive-shrinking schedule (Cai et al. 2020, §3.2): train the full network, then
make kernel size, depth and expand ratio elastic one after another, each phase sampling subnets
from a space that grows, distilled from the full network."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Phase:
    """One phase: which choices are sampled, for how long, and how hard to learn."""

    name: str
    epochs: int
    lr: float
    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    subnets_per_step: int = 1
    expand_stage: int | None = None   # re_organize_middle_weights(stage) before the phase starts
    distill: bool = True              # phase 0 has no teacher yet
    warmup_epochs: float = 0.0
    arch: dict | None = None          # a fixed {ks, e, d} instead of sampling (from-scratch runs)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (compared on resume: a checkpoint only continues its own schedule)."""
        return asdict(self)


@dataclass(frozen=True)
class Schedule:
    """The phases of a run, in order."""

    phases: tuple[Phase, ...]
    extra: dict = field(default_factory=dict)

    @property
    def total_epochs(self) -> int:
        """Epochs summed over the phases."""
        return sum(p.epochs for p in self.phases)


def progressive_shrinking(ks=(3, 5, 7), e=(3, 4, 6), d=(1, 2, 3), epochs=(5, 2, 1, 2, 1, 2),
                          lr=(0.2, 0.06, 0.02, 0.06, 0.02, 0.06)) -> Schedule:
    """The paper's six phases: full → elastic kernel → depth (2 steps) → expand (2 steps).
    Later phases use lower learning rates, as in the official training scripts."""
    ks, e, d = tuple(sorted(ks)), tuple(sorted(e)), tuple(sorted(d))
    kmax, emax, dmax = (ks[-1],), (e[-1],), (d[-1],)
    specs = [("full", kmax, emax, dmax, 1, None, False, 1.0),
             ("kernel", ks, emax, dmax, 1, None, True, 0.0),
             ("depth-1", ks, emax, d[-2:], 2, None, True, 0.0),
             ("depth-2", ks, emax, d, 2, None, True, 0.0),
             ("expand-1", ks, e[-2:], d, 2, 1, True, 0.0),
             ("expand-2", ks, e, d, 2, 2, True, 0.0)]
    return Schedule(tuple(Phase(n, ep, l, k, x, dd, s, st, dist, w)
                          for (n, k, x, dd, s, st, dist, w), ep, l in zip(specs, epochs, lr)))


def scratch(arch, epochs: int, lr: float = 0.2) -> Schedule:
    """One fixed arch (an ArchConfig) trained from scratch: the baseline PS is compared against."""
    fixed = {"ks": list(arch.ks), "e": list(arch.e), "d": list(arch.d)}
    return Schedule((Phase("scratch", epochs, lr, (), (), (), 1, None, False, 1.0, fixed),))
