"""How each training step uses the supernet: which subnets it trains, who teaches them, the
learning rate per phase, weight decay and BN handling. `Recipe()` is the official progressive
shrinking (Cai et al. 2020, the official `train_ofa_net.py`); `RECIPES["improved"]` adds the
sandwich rule and in-place distillation of BigNAS / AttentiveNAS; `RECIPES["bignas"]` is BigNAS's
single stage: every phase samples the whole space, one cosine LR over the whole budget. Every
option is a field, so a run's recipe is saved in its checkpoint and a resumed run must use the
same one."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Sequence

from .phases import Phase
from ..errors import BadArgumentError


@dataclass(frozen=True)
class Recipe:
    """The per-step training recipe (defaults: the official one)."""

    sandwich: bool = False             # the phase's largest and smallest subnet in every step (+ random ones)
    keep_largest: bool = False         # the largest subnet in every step (implied by sandwich / inplace_distill)
    subnets_per_step: int | None = None   # random subnets per step; None: the phase's own (official 1 or 2)
    inplace_distill: bool = False      # the largest subnet's live logits teach the others (no frozen teacher)
    phase_lr: tuple[float, ...] | None = None   # peak LR per phase, overriding the schedule's
    restart_warmup_epochs: float = 0.0  # warm restart: linear warm-up at the start of every later phase
    no_decay_bn_bias: bool = True      # weight decay only on conv/linear weights, as the official code
    bn_momentum: float | None = None   # BN running-statistics momentum in training (None: 0.1, torch and official)
    lr_schedule: str = "phase"         # "phase": a cosine per phase at its own LR; "global": one cosine over the run
    space: str = "phase"               # "phase": progressive spaces; "final": every phase samples the whole space
    subnet_loss: str = "mean"          # how a step combines its subnets' losses: "mean" or "sum" (official code, BigNAS)

    def __post_init__(self):
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise BadArgumentError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {getattr(self, name)!r}")
        if self.lr_schedule == "global" and (self.phase_lr is not None or self.restart_warmup_epochs):
            raise BadArgumentError("lr_schedule='global' is one cosine from the first phase's LR; it takes neither "
                                   "phase_lr nor restart_warmup_epochs (set the LR with the schedule's first phase)")
        if self.subnets_per_step is not None and self.subnets_per_step < 0:
            raise BadArgumentError(f"subnets_per_step must be ≥ 0, not {self.subnets_per_step}")
        if self.subnets_per_step == 0 and not self.trains_largest:
            raise BadArgumentError("subnets_per_step=0 trains nothing without sandwich, keep_largest or inplace_distill; "
                             "use 1 or more, or turn one of those on")
        if not (self.restart_warmup_epochs >= 0 and math.isfinite(self.restart_warmup_epochs)):
            raise BadArgumentError(f"restart_warmup_epochs must be a finite number ≥ 0, not {self.restart_warmup_epochs}")
        if self.bn_momentum is not None and not 0 < self.bn_momentum <= 1:
            raise BadArgumentError(f"bn_momentum must lie in (0, 1], not {self.bn_momentum}")
        if self.phase_lr is not None:
            if not all(isinstance(v, (int, float)) and v > 0 for v in self.phase_lr):
                raise BadArgumentError(f"phase_lr must be positive numbers, one per phase; got {self.phase_lr}")
            object.__setattr__(self, "phase_lr", tuple(float(v) for v in self.phase_lr))

    @property
    def trains_largest(self) -> bool:
        """Whether every step (of a sampling phase) trains the largest subnet."""
        return self.sandwich or self.keep_largest or self.inplace_distill

    def phase_for(self, phases: Sequence[Phase], index: int) -> Phase:
        """Phase `index` as this recipe trains it. With space="final" it samples the last phase's
        (whole) space with in-place distillation from its first step, if that is on, and never
        re-organises channels: the smaller subnets train the first channels from the start."""
        phase = phases[index]
        if self.space == "phase" or phase.arch is not None:
            return phase
        last = phases[-1]
        return replace(phase, ks=last.ks, e=last.e, d=last.d, subnets_per_step=last.subnets_per_step,
                       expand_stage=None, distill=phase.distill or self.inplace_distill)

    def loss_scale(self, n_subnets: int, micro_batches: int) -> float:
        """The weight of each subnet's loss on one micro-batch: 1/micro-batches, and 1/subnets
        for the mean (one division, so the official run's weights stay bit for bit)."""
        return 1.0 / (micro_batches * (n_subnets if self.subnet_loss == "mean" else 1))

    def plan(self, phase: Phase) -> list[str]:
        """The subnets one step trains, in order: 'max', 'min' (of the phase's space), 'random'.
        A phase whose space is one net (the full-net phase, from-scratch) trains it once per
        sample, as the official recipe; the largest goes first so it can teach the rest."""
        if phase.arch is not None or all(len(c) <= 1 for c in (phase.ks, phase.e, phase.d)):
            return ["random"] * phase.subnets_per_step
        n = phase.subnets_per_step if self.subnets_per_step is None else self.subnets_per_step
        head = ["max", "min"] if self.sandwich else ["max"] if self.trains_largest else []
        return head + ["random"] * n

    def lr(self, phases: Sequence[Phase], index: int, epoch: int, step: int, steps: int) -> float:
        """The learning rate of phase `index` at (epoch, step): cosine decay after a linear warm-up,
        per phase, or over the whole run from the first phase's LR and warm-up (lr_schedule="global")."""
        if self.lr_schedule == "global":
            done = sum(p.epochs for p in phases[:index])
            return cosine_lr(phases[0].lr, sum(p.epochs for p in phases), phases[0].warmup_epochs, done + epoch,
                             step, steps)
        phase = phases[index]
        peak = self.phase_lr[index] if self.phase_lr is not None else phase.lr
        warmup = phase.warmup_epochs if phase.warmup_epochs or index == 0 else self.restart_warmup_epochs
        return cosine_lr(peak, phase.epochs, warmup, epoch, step, steps)

    def check(self, n_phases: int) -> None:
        """Fail if the recipe does not fit a schedule of `n_phases` phases."""
        if self.phase_lr is not None and len(self.phase_lr) != n_phases:
            raise BadArgumentError(f"phase_lr gives {len(self.phase_lr)} learning rates for a schedule of {n_phases} "
                             f"phases; give one per phase")

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (saved in checkpoints, compared on resume)."""
        d = asdict(self)
        d["phase_lr"] = list(self.phase_lr) if self.phase_lr is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Recipe":
        """The recipe `to_dict` wrote."""
        return cls(**{**d, "phase_lr": tuple(d["phase_lr"]) if d.get("phase_lr") is not None else None})


def cosine_lr(peak: float, epochs: int, warmup: float, epoch: int, step: int, steps: int) -> float:
    """Cosine decay from `peak` over `epochs`, after a linear warm-up of `warmup` epochs."""
    t = epoch + step / steps
    if t < warmup:
        return peak * (t + 1 / steps) / warmup
    span = max(epochs - warmup, 1e-9)
    return 0.5 * peak * (1 + math.cos(math.pi * (t - warmup) / span))


#: The allowed values of the recipe's string fields (the first is the official one).
CHOICES: dict[str, tuple[str, ...]] = {"lr_schedule": ("phase", "global"), "space": ("phase", "final"),
                                       "subnet_loss": ("mean", "sum")}

#: Named recipes: the official baseline, sandwich + in-place distillation on the PS phases, and
#: BigNAS's single stage (phases only name the snapshots), with the subnets' losses summed or averaged.
RECIPES: dict[str, Recipe] = {
    "official": Recipe(),
    "improved": Recipe(sandwich=True, inplace_distill=True, subnets_per_step=2, restart_warmup_epochs=0.25),
    "bignas": Recipe(sandwich=True, inplace_distill=True, subnets_per_step=2, lr_schedule="global", space="final",
                     subnet_loss="sum"),
    "bignas-mean": Recipe(sandwich=True, inplace_distill=True, subnets_per_step=2, lr_schedule="global",
                          space="final"),
}


def get_recipe(name: str, **overrides: Any) -> Recipe:
    """A named recipe, optionally with some fields changed."""
    if name not in RECIPES:
        from ..errors import UnknownNameError

        raise UnknownNameError("recipe", name, RECIPES, hint="Pass one of these to --recipe.")
    return replace(RECIPES[name], **overrides)
