"""The per-phase table: after every phase of a short PS run on real Fashion-MNIST, the same fixed
subnets are evaluated (BN recalibrated) into phase_eval.json / .md; the rows agree with the run's
own end-of-epoch evaluation, a run without the callback is filled in from its snapshots
afterwards, and a finished row is never evaluated again."""
from __future__ import annotations

import json

import pytest
import torch

from ofa_deploy.training import TrainConfig, Trainer, progressive_shrinking
from ofa_deploy.training.phase_eval import PhaseEvaluator, fixed_archs, update_phase_table

SCHEDULE = progressive_shrinking(epochs=(1, 1, 0, 1, 1, 1), lr=(0.1, 0.05, 0.05, 0.05, 0.05, 0.05))
CFG = TrainConfig(global_batch=16, max_steps_per_epoch=3, resolutions=(24,), eval_images=200, calib_images=64)


def test_callback_writes_a_row_per_phase_matching_the_run(fmnist, tmp_path):
    torch.set_num_threads(1)
    trainer = Trainer(CFG, SCHEDULE, tmp_path, *fmnist, progress=False, callbacks=[PhaseEvaluator(n_random=2)])
    trainer.run()
    table = json.loads((tmp_path / "phase_eval.json").read_text())
    assert list(table["rows"]) == [p.name for p in SCHEDULE.phases]          # depth-1 (0 epochs) included
    assert list(table["archs"]) == ["smallest", "largest", "random-0", "random-1"]
    last = {h["phase"]: h for h in trainer.pos.history}
    for phase, row in table["rows"].items():
        if phase in last:   # the phase's end-of-epoch evaluation saw the same weights, BN recalibrated alike
            assert row["largest"] == last[phase]["top1_max"] and row["smallest"] == last[phase]["top1_min"]
    assert all(0 <= v <= 1 for row in table["rows"].values() for v in row.values())
    assert len({json.dumps(row) for row in table["rows"].values()}) > 2       # the phases moved the weights
    md = (tmp_path / "phase_eval.md").read_text().splitlines()
    assert md[0] == "| after phase | smallest | largest | random-0 | random-1 | random mean |"
    assert len(md) == 2 + len(SCHEDULE.phases) and md[-1].startswith("| expand-2 | ")


def test_table_filled_in_from_snapshots_and_rows_never_redone(fmnist, tmp_path):
    torch.set_num_threads(1)
    trainer = Trainer(CFG, SCHEDULE, tmp_path, *fmnist, progress=False)
    trainer.run()                                        # no callback: only phase-<name>.pth snapshots
    archs = fixed_archs(trainer.record.space, 24, n_random=1)
    names = [p.name for p in SCHEDULE.phases]
    args = (tmp_path, names, trainer.record, *fmnist, archs, 64, 200)
    table = update_phase_table(*args)
    assert list(table["rows"]) == names
    # a row already in the file is kept as it is: poison one and see it survive
    table["rows"]["kernel"]["largest"] = -1.0
    del table["rows"]["expand-2"]
    (tmp_path / "phase_eval.json").write_text(json.dumps(table))
    again = update_phase_table(*args)
    assert again["rows"]["kernel"]["largest"] == -1.0 and list(again["rows"]) == names[:-1] + ["expand-2"]
    with pytest.raises(ValueError, match="other subnets"):
        update_phase_table(tmp_path, names, trainer.record, *fmnist, archs[:2], 64, 200)
