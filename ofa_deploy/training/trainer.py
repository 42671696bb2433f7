"""Progressive shrinking with knowledge distillation, resumable, on 1..N processes. Which subnets
a step trains and who teaches them is the config's `recipe` (recipe.py; official by default).

A run lives in one folder: `checkpoint.pt` (model, optimizer, teacher, position, RNG state;
written atomically every few steps), `history.json` (per-epoch metrics), `phase-<name>.pth`
snapshots and `final.pth` (an official-format {'state_dict': …} checkpoint). Starting a run in a
folder that holds a checkpoint resumes it exactly: batches, augmentation, subnet samples and
dropout masks are functions of (seed, phase, epoch, step, subnet, global micro-batch), and the
learning rate of (phase, epoch, step), so the position *is* the scheduler and RNG state. The same
derivation makes N processes with one micro-batch each compute what one process computes with N
micro-batches."""
from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..arch import ArchConfig
from ..fileio import atomic_path, atomic_write_json
from ..log import LOGGER
from ..registry import get_supernet_record
from .data import Augment, ImageSet, steps_per_epoch, training_batch
from .ddp import all_reduce_grads, all_reduce_mean, device_for, local_rank
from .evaluate import evaluate_arch
from .phases import Phase, Schedule
from .recipe import Recipe, cosine_lr
from ..errors import FileFormatError


@dataclass
class TrainConfig:
    """Everything about a run except its schedule and data (saved in every checkpoint)."""

    supernet: str = "ofa_tiny_d123_e346_k357"
    global_batch: int = 256
    micro_batches: int = 1            # split each rank's batch; 2 here ≡ 2 processes of 1
    momentum: float = 0.9
    weight_decay: float = 3e-5        # not on BN and biases unless recipe.no_decay_bn_bias is off
    label_smoothing: float = 0.1
    kd_ratio: float = 1.0
    seed: int = 0
    max_steps_per_epoch: int | None = None
    ckpt_every: int = 50
    eval_images: int = 5000           # validation images per end-of-epoch evaluation
    calib_images: int = 2000          # training images that re-estimate BN before it
    resolutions: tuple[int, ...] | None = None
    device: str = "auto"              # auto: this rank's GPU when CUDA is present, else CPU
    recipe: Recipe = field(default_factory=Recipe)   # sandwich, distillation, LR, decay, BN (official default)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (for checkpoints and provenance)."""
        return {**asdict(self), "recipe": self.recipe.to_dict()}


def soft_cross_entropy(logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the teacher's softmax (the official distillation loss)."""
    return torch.sum(-F.softmax(teacher_logits, dim=1) * F.log_softmax(logits, dim=1), dim=1).mean()


def lr_at(phase: Phase, epoch: int, step: int, steps: int) -> float:
    """The schedule's own LR: cosine decay over the phase after `phase.warmup_epochs` of warm-up."""
    return cosine_lr(phase.lr, phase.epochs, phase.warmup_epochs, epoch, step, steps)


@dataclass
class Position:
    """Where a run is: phase, epoch and step (the whole scheduler and RNG state), plus its history."""

    phase: int = 0
    epoch: int = 0
    step: int = 0
    started: bool = False   # the current phase's set-up (re-organisation, teacher, optimiser) is done
    history: list = field(default_factory=list)


class Trainer:
    """Runs a Schedule on one supernet; `run()` resumes from `out_dir/checkpoint.pt` if present."""

    def __init__(self, cfg: TrainConfig, schedule: Schedule, out_dir: str | Path, train: ImageSet,
                 val: ImageSet, rank: int = 0, world: int = 1, progress: bool = True,
                 callbacks: tuple = ()):
        cfg.recipe.check(len(schedule.phases))
        self.cfg, self.schedule, self.out = cfg, schedule, Path(out_dir)
        self.callbacks = tuple(callbacks)   # objects with on_phase_end(trainer, phase_index)
        self.train_set, self.val_set, self.rank, self.world = train, val, rank, world
        self.progress = progress and rank == 0
        rec = get_supernet_record(cfg.supernet)
        self.record = rec
        torch.manual_seed(cfg.seed)
        self.device = device_for(local_rank()) if cfg.device == "auto" else torch.device(cfg.device)
        self.model = rec.build().to(self.device).train()
        if cfg.recipe.bn_momentum is not None:
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.momentum = cfg.recipe.bn_momentum
        self.teacher: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.pos = Position()
        self.resolutions = tuple(cfg.resolutions or rec.space.resolutions)
        self.augment = Augment(mean=rec.mean, std=rec.std)

    # ---- checkpoints ---------------------------------------------------------------------
    @property
    def ckpt_path(self) -> Path:
        """The run's resumable checkpoint."""
        return self.out / "checkpoint.pt"

    def save(self) -> None:
        """Write the checkpoint atomically (rank 0 only: every rank holds the same state)."""
        if self.rank != 0:
            return
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict() if self.optimizer else None,
                 "teacher": self.teacher.state_dict() if self.teacher is not None else None,
                 "position": asdict(self.pos), "config": self.cfg.to_dict(), "rng": torch.get_rng_state(),
                 "schedule": [p.to_dict() for p in self.schedule.phases]}
        with atomic_path(self.ckpt_path) as tmp:
            torch.save(state, tmp)

    def load(self) -> bool:
        """Restore the checkpoint if the folder holds one; whether it did."""
        if not self.ckpt_path.exists():
            return False
        state = torch.load(self.ckpt_path, map_location=self.device, weights_only=True)
        if state["schedule"] != [p.to_dict() for p in self.schedule.phases]:
            raise FileFormatError(f"{self.ckpt_path} was written by a different schedule; resume with the same "
                             f"settings or start in an empty folder")
        saved = Recipe.from_dict(state["config"].get("recipe", {})).to_dict()   # fields added later: defaults
        if saved != self.cfg.recipe.to_dict():
            raise FileFormatError(f"{self.ckpt_path} was written with recipe {saved}, not {self.cfg.recipe.to_dict()}; "
                             f"resume with the same recipe or start in an empty folder")
        self.model.load_state_dict(state["model"])
        self.pos = Position(**state["position"])
        if state["teacher"] is not None:
            self.teacher = self._frozen_copy()
            self.teacher.load_state_dict(state["teacher"])
        self.optimizer = self._new_optimizer(self.schedule.phases[min(self.pos.phase, len(self.schedule.phases) - 1)])
        if state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if "rng" in state:
            torch.set_rng_state(state["rng"].cpu())
        return True

    # ---- set-up --------------------------------------------------------------------------
    def _frozen_copy(self) -> nn.Module:
        t = copy.deepcopy(self.model)
        t.set_max_net()
        for p in t.parameters():
            p.requires_grad_(False)
        return t.eval()

    def _new_optimizer(self, phase: Phase) -> torch.optim.Optimizer:
        decay, no_decay = [], []
        exclude = self.cfg.recipe.no_decay_bn_bias
        for name, p in self.model.named_parameters():
            (no_decay if exclude and (p.dim() == 1 or "bn" in name) else decay).append(p)
        groups = [{"params": decay, "weight_decay": self.cfg.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.SGD([g for g in groups if g["params"]],
                               lr=phase.lr, momentum=self.cfg.momentum, nesterov=True)

    def _start_phase(self, phase: Phase) -> None:
        if phase.expand_stage is not None:
            self.model.re_organize_middle_weights(phase.expand_stage)
        if phase.distill and self.teacher is None and not self.cfg.recipe.inplace_distill:
            self.teacher = self._frozen_copy()
        self.optimizer = self._new_optimizer(phase)
        self.pos.started = True
        self.save()

    def _activate(self, phase: Phase, global_step: int, sample: int, kind: str = "random") -> None:
        if phase.arch is not None:
            self.model.set_active_subnet(**phase.arch)
            return
        if kind != "random":   # the largest / smallest subnet of the phase's space
            pick = max if kind == "max" else min
            self.model.set_active_subnet(ks=pick(phase.ks), e=pick(phase.e), d=pick(phase.d))
            return
        self.model.clear_constraint()
        self.model.set_constraint(list(phase.ks), "kernel_size")
        self.model.set_constraint(list(phase.e), "expand_ratio")
        self.model.set_constraint(list(phase.d), "depth")
        self.model.sample_active_subnet(rng=np.random.default_rng([self.cfg.seed, global_step, sample]))

    # ---- the loop ------------------------------------------------------------------------
    def steps(self) -> int:
        """Optimiser steps per epoch (full global batches, capped by max_steps_per_epoch)."""
        n = steps_per_epoch(len(self.train_set), self.cfg.global_batch)
        return min(n, self.cfg.max_steps_per_epoch) if self.cfg.max_steps_per_epoch else n

    def train_step(self, phase: Phase, pi: int, epoch: int, step: int) -> tuple[float, float]:
        """One optimiser step: every sampled subnet on every micro-batch, gradients accumulated
        (and averaged over ranks). Returns (loss, top-1 on the training batch)."""
        cfg, steps = self.cfg, self.steps()
        x, y, _ = training_batch(self.train_set, self.augment, cfg.global_batch, cfg.seed * 1000 + pi, epoch, step,
                                 self.resolutions, self.rank, self.world)
        x, y = x.to(self.device), y.to(self.device)
        for g in self.optimizer.param_groups:
            g["lr"] = cfg.recipe.lr(self.schedule.phases, pi, epoch, step, steps)
        self.optimizer.zero_grad(set_to_none=True)
        xs, ys = x.chunk(cfg.micro_batches), y.chunk(cfg.micro_batches)
        soft = None
        if phase.distill and self.teacher is not None:
            with torch.no_grad():
                soft = [self.teacher(m) for m in xs]
        global_step = (pi * 10_000 + epoch) * 100_000 + step
        total, hits = 0.0, 0
        plan = cfg.recipe.plan(phase)
        live = cfg.recipe.inplace_distill and phase.distill
        scale = cfg.recipe.loss_scale(len(plan), cfg.micro_batches)
        micro = _MicroBatchesAsRanks(self.model, cfg.micro_batches)
        for i, (xm, ym) in enumerate(zip(xs, ys)):
            micro.begin()
            target = soft[i] if soft is not None else None
            for s, kind in enumerate(plan):
                self._activate(phase, global_step, s, kind)
                # dropout draws from the global RNG: seed it by the micro-batch's global index so
                # ranks × micro-batches and resumed runs see the masks an uninterrupted run sees
                torch.manual_seed(_derive_seed(cfg.seed, global_step, s, self.rank * cfg.micro_batches + i))
                out = self.model(xm)
                loss = F.cross_entropy(out, ym, label_smoothing=cfg.label_smoothing)
                if target is not None and not (live and kind == "max"):
                    loss = loss + cfg.kd_ratio * soft_cross_entropy(out, target)
                if live and kind == "max":   # in-place distillation: the largest teaches this micro-batch
                    target = out.detach()
                (loss * scale).backward()
                total += loss.item() * scale
                hits += (out.argmax(1) == ym).sum().item()
            micro.end()
        micro.finish(self.world)
        self.optimizer.step()
        return total, hits / (len(y) * len(plan))

    def evaluate(self) -> dict[str, float]:
        """Validation top-1 (BN recalibrated): the fixed arch of a from-scratch phase, else the
        largest and smallest subnets of the space."""
        space, r = self.record.space, 28 if 28 in self.resolutions else self.resolutions[-1]
        phase = self.schedule.phases[min(self.pos.phase, len(self.schedule.phases) - 1)]
        if phase.arch is not None:
            targets = [("arch", ArchConfig.from_dict(phase.arch, r=r))]
        else:
            targets = [("max", space.largest(r)), ("min", space.smallest(r))]
        model, rec, cfg = copy.deepcopy(self.model), self.record, self.cfg
        return {f"top1_{name}": evaluate_arch(model, arch, self.train_set, self.val_set, rec.mean, rec.std,
                                              cfg.calib_images, cfg.eval_images, self.device)
                for name, arch in targets}

    def remaining_subnet_steps(self) -> int:
        """Subnet forward/backward passes left in the run (the unit of the run's ETA)."""
        steps, pos = self.steps(), self.pos
        left = 0
        for i in range(pos.phase, len(self.schedule.phases)):
            ph = self.cfg.recipe.phase_for(self.schedule.phases, i)
            done = pos.epoch * steps + pos.step if i == pos.phase else 0
            left += (ph.epochs * steps - done) * len(self.cfg.recipe.plan(ph))
        return left

    def run(self) -> nn.Module:
        """Train through the schedule from wherever the folder's checkpoint left off."""
        self.out.mkdir(parents=True, exist_ok=True)
        resumed = self.load()
        if self.progress and resumed:
            LOGGER.info("resuming %s at phase %d epoch %d step %d", self.out, self.pos.phase, self.pos.epoch,
                        self.pos.step)
        while self.pos.phase < len(self.schedule.phases):
            phase = self.cfg.recipe.phase_for(self.schedule.phases, self.pos.phase)   # as the recipe trains it
            if not self.pos.started:
                self._start_phase(phase)
            while self.pos.epoch < phase.epochs:
                self._run_epoch(phase)
            self._finish_phase(phase)
        return self.model

    def _run_epoch(self, phase: Phase) -> None:
        from tqdm import tqdm

        pi, steps, t0, losses, accs = self.pos.phase, self.steps(), time.time(), [], []
        bar = tqdm(range(self.pos.step, steps), disable=not self.progress, leave=False, dynamic_ncols=True,
                   desc=f"[{pi + 1}/{len(self.schedule.phases)}] {phase.name} ep {self.pos.epoch + 1}/{phase.epochs}")
        for step in bar:
            loss, acc = self.train_step(phase, pi, self.pos.epoch, step)
            losses.append(loss)
            accs.append(acc)
            self.pos.step = step + 1
            per_subnet = (time.time() - t0) / (len(losses) * len(self.cfg.recipe.plan(phase)))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", acc=f"{np.mean(accs[-20:]):.3f}",
                            run_eta=_hms(per_subnet * self.remaining_subnet_steps()))
            if self.pos.step % self.cfg.ckpt_every == 0 and self.pos.step < steps:
                self.save()
        bar.close()
        metrics = self.evaluate() if self.rank == 0 else {}
        self.pos.history.append({"phase": phase.name, "epoch": self.pos.epoch + 1, "seconds": time.time() - t0,
                                 "steps": len(losses), "loss": float(np.mean(losses)) if losses else None,
                                 "train_top1": float(np.mean(accs)) if accs else None,
                                 "subnets_per_step": len(self.cfg.recipe.plan(phase)),
                                 "lr_last": self.optimizer.param_groups[0]["lr"], **metrics})
        if self.progress:
            tqdm.write(json.dumps(self.pos.history[-1]))
        self.pos.epoch, self.pos.step = self.pos.epoch + 1, 0
        self.save()

    def cpu_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights as CPU tensors: a released checkpoint loads on any machine, GPU-trained or not."""
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items()}

    def _finish_phase(self, phase: Phase) -> None:
        if self.rank == 0:
            with atomic_path(self.out / f"phase-{phase.name}.pth") as tmp:
                torch.save({"state_dict": self.cpu_state_dict()}, tmp)
            # before the position moves on: a run killed inside a callback redoes it on resume
            for cb in self.callbacks:
                cb.on_phase_end(self, self.pos.phase)
        self.pos = Position(phase=self.pos.phase + 1, history=self.pos.history)
        self.save()
        if self.pos.phase == len(self.schedule.phases) and self.rank == 0:
            with atomic_path(self.out / "final.pth") as tmp:
                torch.save({"state_dict": self.cpu_state_dict()}, tmp)
            atomic_write_json(self.out / "history.json", self.pos.history)


def _derive_seed(*parts: int) -> int:
    return int(np.random.default_rng(list(parts)).integers(2 ** 62))


def _hms(seconds: float) -> str:
    m, sec = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{sec:02d}"


class _MicroBatchesAsRanks:
    """Runs each micro-batch as if on its own rank, so one process with N micro-batches computes
    bit for bit what N processes compute: every micro-batch starts from the step's BN running
    statistics (the results are averaged, here and then over ranks — so distillation later gets
    the same teacher), and its gradients are summed apart from the others' before the
    micro-batches are added in order (as a 2-rank all-reduce adds them). Scaling the loss by
    1/(N·subnets) instead of 1/subnets and then 1/N differs by a power of two: exact in floats."""

    def __init__(self, model: nn.Module, micro_batches: int):
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.buffers = [b for b in model.buffers() if b.dtype.is_floating_point]
        # integer buffers (BN's num_batches_tracked) restart too: each rank counts a step once
        self.counters = [b for b in model.buffers() if not b.dtype.is_floating_point]
        self.n = micro_batches
        self.start = [b.clone() for b in self.buffers + self.counters] if self.n > 1 else []
        self.stats = [torch.zeros_like(b) for b in self.buffers] if self.n > 1 else []
        self.grads: list[torch.Tensor | None] = [None] * len(self.params)

    def begin(self) -> None:
        """Before a micro-batch: back to the step's starting BN statistics and counters."""
        for b, s in zip(self.buffers + self.counters, self.start):
            b.copy_(s)

    def end(self) -> None:
        """After a micro-batch: bank its statistics and gradients apart from the others'."""
        if self.n == 1:
            return
        for b, acc in zip(self.buffers, self.stats):
            acc += b
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self.grads[i] = p.grad if self.grads[i] is None else self.grads[i] + p.grad
                p.grad = None

    def finish(self, world: int) -> None:
        """Install the summed gradients and averaged statistics, then average both over ranks."""
        if self.n > 1:
            for b, acc in zip(self.buffers, self.stats):
                b.copy_(acc / self.n)
            for p, g in zip(self.params, self.grads):
                p.grad = g
        all_reduce_mean(self.buffers, world)
        all_reduce_grads(self.params, world)
