"""Each recipe option on a short progressive-shrinking run on real Fashion-MNIST (2 steps per phase):
the run trains every phase and the option does what it says — which subnets a step trains, who
teaches them, the learning rate, weight decay, BN momentum — and a resumed run must keep it."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from ofa_deploy.training import TrainConfig, Trainer, progressive_shrinking
from ofa_deploy.training.ddp import spawn
from ofa_deploy.training.recipe import RECIPES, Recipe, get_recipe

SCHEDULE = progressive_shrinking(epochs=(1, 1, 1, 1, 1, 1), lr=(0.1, 0.05, 0.05, 0.05, 0.05, 0.05))
STEPS = 2


def _config(recipe: Recipe, **kw) -> TrainConfig:
    return TrainConfig(global_batch=16, max_steps_per_epoch=STEPS, resolutions=(24,), eval_images=100,
                       calib_images=64, recipe=recipe, **kw)


def _run(fmnist, out, recipe: Recipe, **kw) -> tuple[Trainer, list]:
    """Train the short schedule; (trainer, the (phase, ks, e, d) of every training forward)."""
    torch.set_num_threads(1)
    train, val = fmnist
    trainer = Trainer(_config(recipe, **kw), SCHEDULE, out, train, val, progress=False)
    seen = _record_forwards(trainer)
    trainer.run()
    history = json.loads((out / "history.json").read_text())
    assert [h["phase"] for h in history] == [p.name for p in SCHEDULE.phases]
    assert all(h["steps"] == STEPS and math.isfinite(h["loss"]) and 0 <= h["top1_min"] <= 1 for h in history)
    return trainer, seen


def _record_forwards(trainer: Trainer) -> list:
    """The (phase, ks, e, d) of every training forward the trainer will run, filled in as it runs."""
    seen = []

    def record(module, _inputs):
        if module.training:   # the frozen teacher (a deep copy, hook included) runs in eval mode
            a = module.get_active_arch()
            seen.append((trainer.pos.phase, set(a.ks), set(a.e), set(a.d)))
    trainer.model.register_forward_pre_hook(record)
    return seen


def _per_step(seen, phase: int, n: int) -> list[list]:
    rows = [s[1:] for s in seen if s[0] == phase]
    assert len(rows) == STEPS * n, f"phase {phase}: {len(rows)} forwards, expected {STEPS} steps × {n} subnets"
    return [rows[i:i + n] for i in range(0, len(rows), n)]


def _is(row, ks, e, d) -> bool:
    return row == ({ks}, {e}, {d})


def test_sandwich_trains_the_phase_largest_and_smallest_every_step(fmnist, tmp_path):
    trainer, seen = _run(fmnist, tmp_path, Recipe(sandwich=True, subnets_per_step=1))
    history = trainer.pos.history
    assert [h["subnets_per_step"] for h in history] == [1, 3, 3, 3, 3, 3]   # the full-net phase trains its one net
    for step in _per_step(seen, 1, 3):          # kernel phase: ks elastic, e and d at their largest
        assert _is(step[0], 7, 6, 3) and _is(step[1], 3, 6, 3)
    for step in _per_step(seen, 5, 3):          # expand-2: everything elastic
        assert _is(step[0], 7, 6, 3) and _is(step[1], 3, 3, 1)
    assert trainer.teacher is not None          # still the official frozen teacher


def test_keep_largest_and_more_subnets_per_step(fmnist, tmp_path):
    trainer, seen = _run(fmnist, tmp_path, Recipe(keep_largest=True, subnets_per_step=3))
    assert [h["subnets_per_step"] for h in trainer.pos.history] == [1, 4, 4, 4, 4, 4]
    for phase in range(1, 6):
        assert all(_is(step[0], 7, 6, 3) for step in _per_step(seen, phase, 4))
    samples = [s for step in _per_step(seen, 5, 4) for s in step[1:]]
    assert len({json.dumps([sorted(x) for x in s]) for s in samples}) > 1, "random subnets all the same"


def test_inplace_distillation_has_no_frozen_teacher(fmnist, tmp_path):
    trainer, seen = _run(fmnist, tmp_path / "inplace", Recipe(inplace_distill=True))
    assert trainer.teacher is None
    assert torch.load(tmp_path / "inplace" / "checkpoint.pt", weights_only=True)["teacher"] is None
    assert all(_is(step[0], 7, 6, 3) for step in _per_step(seen, 3, 3))   # the largest first: the teacher
    frozen, _ = _run(fmnist, tmp_path / "frozen", Recipe(keep_largest=True))
    # same subnets and batches; only who teaches differs — and so do the weights
    assert [h["subnets_per_step"] for h in frozen.pos.history] == [h["subnets_per_step"] for h in trainer.pos.history]
    a, b = trainer.model.state_dict(), frozen.model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a if k.endswith("weight"))


def test_phase_learning_rates_and_warm_restarts(fmnist, tmp_path):
    recipe = Recipe(phase_lr=(0.1, 0.2, 0.2, 0.1, 0.1, 0.05), restart_warmup_epochs=1.0)
    trainer, _ = _run(fmnist, tmp_path, recipe)
    kernel = SCHEDULE.phases[1]
    phases = SCHEDULE.phases
    assert recipe.lr(phases, 1, 0, 0, STEPS) == pytest.approx(0.1)        # half-way up a 1-epoch warm-up
    assert recipe.lr(phases, 1, 0, 1, STEPS) == pytest.approx(0.2)        # at its end, the phase's own peak
    assert Recipe().lr(phases, 1, 0, 0, STEPS) == kernel.lr               # the official: no warm-up
    for i, h in enumerate(trainer.pos.history):
        assert h["lr_last"] == pytest.approx(recipe.lr(phases, i, 0, STEPS - 1, STEPS))
    with pytest.raises(ValueError, match="one per phase"):
        Trainer(_config(Recipe(phase_lr=(0.1, 0.2))), SCHEDULE, tmp_path / "bad", *fmnist)


def test_weight_decay_exclusions(fmnist, tmp_path):
    trainer, _ = _run(fmnist, tmp_path / "decay-all", Recipe(no_decay_bn_bias=False))
    groups = trainer.optimizer.param_groups
    assert len(groups) == 1 and groups[0]["weight_decay"] == trainer.cfg.weight_decay
    official = Trainer(_config(Recipe()), SCHEDULE, tmp_path / "official", *fmnist)
    decay, no_decay = official._new_optimizer(SCHEDULE.phases[0]).param_groups
    names = {id(p): n for n, p in official.model.named_parameters()}
    assert no_decay["weight_decay"] == 0 and decay["weight_decay"] == official.cfg.weight_decay
    assert all(p.dim() == 1 or "bn" in names[id(p)] for p in no_decay["params"])
    assert any("bn" in names[id(p)] for p in no_decay["params"])
    assert all(p.dim() > 1 and "bn" not in names[id(p)] for p in decay["params"])


def test_bn_momentum(fmnist, tmp_path):
    trainer, _ = _run(fmnist, tmp_path, Recipe(bn_momentum=0.01))
    bns = [m for m in trainer.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.momentum == 0.01 for m in bns)
    # running statistics barely move from their initial (0, 1) with momentum 0.01 over 12 steps
    assert max(m.running_var.sub(1).abs().max().item() for m in bns) < 0.5


def test_improved_recipe_runs_and_resume_keeps_the_recipe(fmnist, tmp_path):
    trainer, seen = _run(fmnist, tmp_path, get_recipe("improved"))
    assert trainer.teacher is None and [h["subnets_per_step"] for h in trainer.pos.history] == [1, 4, 4, 4, 4, 4]
    for step in _per_step(seen, 4, 4):
        assert _is(step[0], 7, 6, 3) and _is(step[1], 3, 4, 1)   # expand-1: e ∈ {4, 6}
    with pytest.raises(ValueError, match="recipe"):
        Trainer(_config(RECIPES["official"]), SCHEDULE, tmp_path, *fmnist, progress=False).run()


def test_recipe_settings_are_checked():
    with pytest.raises(ValueError, match="trains nothing"):
        Recipe(subnets_per_step=0)
    assert Recipe(sandwich=True, subnets_per_step=0).plan(SCHEDULE.phases[1]) == ["max", "min"]
    with pytest.raises(ValueError, match="bn_momentum"):
        Recipe(bn_momentum=0)
    with pytest.raises(LookupError, match="unknown recipe 'sandwhich'"):
        get_recipe("sandwhich")
    assert Recipe.from_dict(get_recipe("improved", phase_lr=(1, 2)).to_dict()) == replace(
        RECIPES["improved"], phase_lr=(1.0, 2.0))


def _rank_run(rank: int, world: int, out: str, fmnist) -> None:
    torch.set_num_threads(1)
    cfg = replace(_config(get_recipe("improved")), global_batch=16)
    Trainer(cfg, SCHEDULE, out, *fmnist, rank=rank, world=world, progress=False).run()


def test_improved_recipe_on_two_processes_equals_two_micro_batches(fmnist, tmp_path):
    """In-place distillation per micro-batch is what each rank does: exact agreement."""
    torch.set_num_threads(1)
    one = Trainer(replace(_config(get_recipe("improved")), micro_batches=2), SCHEDULE, tmp_path / "one",
                  *fmnist, progress=False).run().state_dict()
    spawn(_rank_run, 2, str(tmp_path / "two"), fmnist)
    two = torch.load(tmp_path / "two" / "final.pth", weights_only=True)["state_dict"]
    differing = [k for k in one if not torch.equal(one[k].cpu(), two[k])]
    assert not differing, f"{len(differing)} tensors differ: {differing[:3]}"
