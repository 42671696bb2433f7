"""Progressive shrinking with knowledge distillation, resumable, on 1..N processes.

A run lives in one folder: `checkpoint.pt` (model, optimizer, teacher, position; written
atomically every few steps), `history.json` (per-epoch metrics), `phase-<name>.pth` snapshots
and `final.pth` (an official-format {'state_dict': …} checkpoint). Starting a run in a folder that
holds a checkpoint resumes it exactly: batches, augmentation and subnet samples are functions of
(seed, phase, epoch, step), so nothing depends on state the checkpoint does not hold."""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..fileio import atomic_path, atomic_write_json
from ..registry import get_supernet_record
from .data import Augment, ImageSet, steps_per_epoch, training_batch
from .ddp import all_reduce_grads, average_buffers
from .evaluate import evaluate_arch
from .phases import Phase, Schedule


@dataclass
class TrainConfig:
    supernet: str = "ofa_tiny_d123_e346_k357"
    global_batch: int = 256
    micro_batches: int = 1            # split each rank's batch; 2 here ≡ 2 processes of 1
    momentum: float = 0.9
    weight_decay: float = 3e-5        # not on BN and biases, as the official recipe
    label_smoothing: float = 0.1
    kd_ratio: float = 1.0
    seed: int = 0
    max_steps_per_epoch: int | None = None
    ckpt_every: int = 50
    eval_images: int = 5000
    resolutions: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def soft_cross_entropy(logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the teacher's softmax (the official distillation loss)."""
    return torch.sum(-F.softmax(teacher_logits, dim=1) * F.log_softmax(logits, dim=1), dim=1).mean()


def lr_at(phase: Phase, epoch: int, step: int, steps: int) -> float:
    """Cosine decay over the phase, after a linear warm-up of `phase.warmup_epochs`."""
    t = epoch + step / steps
    if t < phase.warmup_epochs:
        return phase.lr * (t + 1 / steps) / phase.warmup_epochs
    span = max(phase.epochs - phase.warmup_epochs, 1e-9)
    return 0.5 * phase.lr * (1 + math.cos(math.pi * (t - phase.warmup_epochs) / span))


@dataclass
class Position:
    phase: int = 0
    epoch: int = 0
    step: int = 0
    started: bool = False   # the current phase's set-up (re-organisation, teacher, optimiser) is done
    history: list = field(default_factory=list)


class Trainer:
    """Runs a Schedule on one supernet; `run()` resumes from `out_dir/checkpoint.pt` if present."""

    def __init__(self, cfg: TrainConfig, schedule: Schedule, out_dir: str | Path, train: ImageSet,
                 val: ImageSet, rank: int = 0, world: int = 1, progress: bool = True):
        self.cfg, self.schedule, self.out = cfg, schedule, Path(out_dir)
        self.train_set, self.val_set, self.rank, self.world = train, val, rank, world
        self.progress = progress and rank == 0
        rec = get_supernet_record(cfg.supernet)
        self.record = rec
        torch.manual_seed(cfg.seed)
        self.model = rec.build().train()
        self.teacher: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.pos = Position()
        self.resolutions = tuple(cfg.resolutions or rec.space.resolutions)
        self.augment = Augment(mean=rec.mean, std=rec.std)

    # ---- checkpoints ---------------------------------------------------------------------
    @property
    def ckpt_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def save(self) -> None:
        if self.rank != 0:
            return
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict() if self.optimizer else None,
                 "teacher": self.teacher.state_dict() if self.teacher is not None else None,
                 "position": asdict(self.pos), "config": self.cfg.to_dict(),
                 "schedule": [p.to_dict() for p in self.schedule.phases]}
        with atomic_path(self.ckpt_path) as tmp:
            torch.save(state, tmp)

    def load(self) -> bool:
        if not self.ckpt_path.exists():
            return False
        state = torch.load(self.ckpt_path, map_location="cpu", weights_only=True)
        if state["schedule"] != [p.to_dict() for p in self.schedule.phases]:
            raise ValueError(f"{self.ckpt_path} was written by a different schedule; resume with the same "
                             f"settings or start in an empty folder")
        self.model.load_state_dict(state["model"])
        self.pos = Position(**state["position"])
        if state["teacher"] is not None:
            self.teacher = self._frozen_copy()
            self.teacher.load_state_dict(state["teacher"])
        self.optimizer = self._new_optimizer(self.schedule.phases[min(self.pos.phase, len(self.schedule.phases) - 1)])
        if state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
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
        for name, p in self.model.named_parameters():
            (no_decay if p.dim() == 1 or "bn" in name else decay).append(p)
        return torch.optim.SGD([{"params": decay, "weight_decay": self.cfg.weight_decay},
                                {"params": no_decay, "weight_decay": 0.0}],
                               lr=phase.lr, momentum=self.cfg.momentum, nesterov=True)

    def _start_phase(self, phase: Phase) -> None:
        if phase.expand_stage is not None:
            self.model.re_organize_middle_weights(phase.expand_stage)
        if phase.distill and self.teacher is None:
            self.teacher = self._frozen_copy()
        self.optimizer = self._new_optimizer(phase)
        self.pos.started = True
        self.save()

    def _activate(self, phase: Phase, global_step: int, sample: int) -> None:
        if phase.arch is not None:
            self.model.set_active_subnet(**phase.arch)
            return
        self.model.clear_constraint()
        self.model.set_constraint(list(phase.ks), "kernel_size")
        self.model.set_constraint(list(phase.e), "expand_ratio")
        self.model.set_constraint(list(phase.d), "depth")
        self.model.sample_active_subnet(rng=np.random.default_rng([self.cfg.seed, global_step, sample]))

    # ---- the loop ------------------------------------------------------------------------
    def steps(self) -> int:
        n = steps_per_epoch(len(self.train_set), self.cfg.global_batch)
        return min(n, self.cfg.max_steps_per_epoch) if self.cfg.max_steps_per_epoch else n

    def train_step(self, phase: Phase, pi: int, epoch: int, step: int) -> float:
        cfg, steps = self.cfg, self.steps()
        x, y, _ = training_batch(self.train_set, self.augment, cfg.global_batch, cfg.seed * 1000 + pi, epoch, step,
                                 self.resolutions, self.rank, self.world)
        for g in self.optimizer.param_groups:
            g["lr"] = lr_at(phase, epoch, step, steps)
        self.optimizer.zero_grad(set_to_none=True)
        xs, ys = x.chunk(cfg.micro_batches), y.chunk(cfg.micro_batches)
        soft = None
        if phase.distill and self.teacher is not None:
            with torch.no_grad():
                soft = [self.teacher(m) for m in xs]
        global_step = (pi * 10_000 + epoch) * 100_000 + step
        total = 0.0
        scale = 1.0 / (cfg.micro_batches * phase.subnets_per_step)
        for s in range(phase.subnets_per_step):
            self._activate(phase, global_step, s)
            for i, (xm, ym) in enumerate(zip(xs, ys)):
                out = self.model(xm)
                loss = F.cross_entropy(out, ym, label_smoothing=cfg.label_smoothing)
                if soft is not None:
                    loss = loss + cfg.kd_ratio * soft_cross_entropy(out, soft[i])
                (loss * scale).backward()
                total += loss.item() * scale
        all_reduce_grads([p for p in self.model.parameters() if p.requires_grad], self.world)
        self.optimizer.step()
        return total

    def evaluate(self) -> dict[str, float]:
        """Top-1 on the validation split of the largest and smallest subnets of the current space."""
        space, r = self.record.space, 28 if 28 in self.resolutions else self.resolutions[-1]
        model = copy.deepcopy(self.model)
        out = {}
        for name, arch in (("max", space.largest(r)), ("min", space.smallest(r))):
            out[f"top1_{name}"] = evaluate_arch(model, arch, self.train_set, self.val_set, self.record.mean,
                                                self.record.std, calib_images=2000, val_limit=self.cfg.eval_images)
        return out

    def run(self) -> nn.Module:
        self.out.mkdir(parents=True, exist_ok=True)
        resumed = self.load()
        if self.progress and resumed:
            print(f"resuming {self.out} at phase {self.pos.phase} epoch {self.pos.epoch} step {self.pos.step}")
        from tqdm import tqdm

        steps = self.steps()
        while self.pos.phase < len(self.schedule.phases):
            pi, phase = self.pos.phase, self.schedule.phases[self.pos.phase]
            if not self.pos.started:
                self._start_phase(phase)
            while self.pos.epoch < phase.epochs:
                t0, losses = time.time(), []
                bar = tqdm(range(self.pos.step, steps), disable=not self.progress, leave=False,
                           desc=f"{phase.name} {self.pos.epoch + 1}/{phase.epochs}")
                for step in bar:
                    losses.append(self.train_step(phase, pi, self.pos.epoch, step))
                    self.pos.step = step + 1
                    bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
                    if self.pos.step % self.cfg.ckpt_every == 0 and self.pos.step < steps:
                        self.save()
                average_buffers(self.model, self.world)
                metrics = self.evaluate() if self.rank == 0 else {}
                self.pos.history.append({"phase": phase.name, "epoch": self.pos.epoch + 1, "seconds": time.time() - t0,
                                         "loss": float(np.mean(losses)) if losses else None, **metrics})
                if self.progress:
                    print(json.dumps(self.pos.history[-1]))
                self.pos.epoch, self.pos.step = self.pos.epoch + 1, 0
                self.save()
            self._finish_phase(phase)
        return self.model

    def _finish_phase(self, phase: Phase) -> None:
        if self.rank == 0:
            with atomic_path(self.out / f"phase-{phase.name}.pth") as tmp:
                torch.save({"state_dict": self.model.state_dict()}, tmp)
        self.pos = Position(phase=self.pos.phase + 1, history=self.pos.history)
        self.save()
        if self.pos.phase == len(self.schedule.phases) and self.rank == 0:
            with atomic_path(self.out / "final.pth") as tmp:
                torch.save({"state_dict": self.model.state_dict()}, tmp)
            atomic_write_json(self.out / "history.json", self.pos.history)
