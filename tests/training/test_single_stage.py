"""The BigNAS-style recipe options on a short run on real Fashion-MNIST (2 steps per phase):
every phase sampling the whole space (space="final"), one cosine LR over the whole run
(lr_schedule="global") and the subnets' losses summed instead of averaged (subnet_loss="sum")."""
from __future__ import annotations

import pytest
import torch

from ofa_deploy.training import Trainer
from ofa_deploy.training.recipe import Recipe, cosine_lr, get_recipe
from tests.training.test_recipes import SCHEDULE, STEPS, _config, _is, _per_step, _record_forwards, _run


def _count_reorganisations(trainer: Trainer) -> list:
    """Spy on the real re-organisation (it still runs): the stages it was called with."""
    calls, real = [], trainer.model.re_organize_middle_weights

    def spy(stage, *args, **kw):
        calls.append(stage)
        return real(stage, *args, **kw)
    trainer.model.re_organize_middle_weights = spy
    return calls


def _run_spied(fmnist, out, recipe: Recipe) -> tuple[Trainer, list, list]:
    """(trainer, its training forwards, the stages it re-organised) of the short schedule."""
    torch.set_num_threads(1)
    trainer = Trainer(_config(recipe), SCHEDULE, out, *fmnist, progress=False)
    calls, seen = _count_reorganisations(trainer), _record_forwards(trainer)
    trainer.run()
    return trainer, seen, calls


def test_final_space_samples_the_whole_space_in_every_phase(fmnist, tmp_path):
    trainer, seen, calls = _run_spied(fmnist, tmp_path / "final", Recipe(
        sandwich=True, inplace_distill=True, subnets_per_step=1, space="final"))
    assert [h["subnets_per_step"] for h in trainer.pos.history] == [3] * 6   # the full-net phase too
    for phase in range(6):   # the whole space's largest and smallest from the first step on
        for step in _per_step(seen, phase, 3):
            assert _is(step[0], 7, 6, 3) and _is(step[1], 3, 3, 1)
    assert calls == [] and trainer.teacher is None   # no channel sorting; the live largest teaches
    _, seen, calls = _run_spied(fmnist, tmp_path / "progressive", Recipe(
        sandwich=True, inplace_distill=True, subnets_per_step=1))
    assert calls == [1, 2]                           # the progressive expand phases do sort
    assert len([s for s in seen if s[0] == 0]) == STEPS   # and train the full net alone first


def test_global_lr_is_one_cosine_over_the_run(fmnist, tmp_path):
    recipe = Recipe(keep_largest=True, lr_schedule="global")
    trainer, _ = _run(fmnist, tmp_path, recipe)
    phases, total = SCHEDULE.phases, SCHEDULE.total_epochs
    # what a from-scratch run of the whole budget uses: the first phase's peak and warm-up, no restarts
    lrs = [recipe.lr(phases, i, 0, s, STEPS) for i in range(len(phases)) for s in range(STEPS)]
    assert lrs == [cosine_lr(phases[0].lr, total, phases[0].warmup_epochs, i, s, STEPS)
                   for i in range(len(phases)) for s in range(STEPS)]
    after_warmup = lrs[STEPS:]
    assert all(a > b for a, b in zip(after_warmup, after_warmup[1:])), after_warmup   # falls through phase ends
    assert max(lrs) == pytest.approx(phases[0].lr)
    for i, h in enumerate(trainer.pos.history):
        assert h["lr_last"] == pytest.approx(recipe.lr(phases, i, 0, STEPS - 1, STEPS))
    assert Recipe().lr(phases, 1, 0, 0, STEPS) == phases[1].lr   # the official: each phase restarts


def _gradients_of_one_step(fmnist, out, recipe: Recipe) -> list[torch.Tensor]:
    torch.set_num_threads(1)
    trainer = Trainer(_config(recipe), SCHEDULE, out, *fmnist, progress=False)
    trainer.out.mkdir(parents=True)
    trainer._start_phase(SCHEDULE.phases[1])      # the kernel phase: a frozen teacher, 2 subnets a step
    trainer.train_step(SCHEDULE.phases[1], 1, 0, 0)
    return [p.grad.clone() for p in trainer.model.parameters() if p.grad is not None]


def test_summed_subnet_losses_give_n_times_the_mean_gradient(fmnist, tmp_path):
    mean = _gradients_of_one_step(fmnist, tmp_path / "mean", Recipe(keep_largest=True))
    summed = _gradients_of_one_step(fmnist, tmp_path / "sum", Recipe(keep_largest=True, subnet_loss="sum"))
    assert len(mean) == len(summed) > 0 and Recipe(keep_largest=True).plan(SCHEDULE.phases[1]) == ["max", "random"]
    for g_mean, g_sum in zip(mean, summed):
        torch.testing.assert_close(g_sum, 2 * g_mean, rtol=1e-6, atol=0)
    assert any(g.abs().sum() > 0 for g in summed)


def test_bignas_recipe_runs(fmnist, tmp_path):
    trainer, seen = _run(fmnist, tmp_path, get_recipe("bignas"))
    assert trainer.teacher is None and [h["subnets_per_step"] for h in trainer.pos.history] == [4] * 6
    for step in _per_step(seen, 0, 4) + _per_step(seen, 3, 4):
        assert _is(step[0], 7, 6, 3) and _is(step[1], 3, 3, 1)
    with pytest.raises(ValueError, match="recipe"):   # a checkpoint keeps its recipe
        Trainer(_config(get_recipe("improved")), SCHEDULE, tmp_path, *fmnist, progress=False).run()


def test_single_stage_settings_are_checked():
    with pytest.raises(ValueError, match="lr_schedule must be one of 'phase', 'global', not 'cosine'"):
        Recipe(lr_schedule="cosine")
    with pytest.raises(ValueError, match="space must be one of"):
        Recipe(space="full")
    with pytest.raises(ValueError, match="subnet_loss must be one of 'mean', 'sum'"):
        Recipe(subnet_loss="avg")
    with pytest.raises(ValueError, match="takes neither phase_lr"):
        Recipe(lr_schedule="global", phase_lr=(0.1,) * 6)
    with pytest.raises(ValueError, match="restart_warmup_epochs"):
        Recipe(lr_schedule="global", restart_warmup_epochs=0.5)
    # a checkpoint written before these fields existed reads back as the official values
    old = {k: v for k, v in Recipe().to_dict().items() if k not in ("lr_schedule", "space", "subnet_loss")}
    assert Recipe.from_dict(old) == Recipe()
