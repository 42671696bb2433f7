"""A short progressive-shrinking run on real Fashion-MNIST: every phase runs, the loss falls,
subnets cut from the result beat chance after BN recalibration, the output is official-format."""
from __future__ import annotations

import json
import math

import torch

from ofa_deploy.registry import get_supernet_record
from ofa_deploy.training import TrainConfig, Trainer, evaluate_arch, progressive_shrinking
from ofa_deploy.training.trainer import lr_at

PHASES = ["full", "kernel", "depth-1", "depth-2", "expand-1", "expand-2"]


def test_short_ps_run_trains_every_phase(fmnist, tmp_path):
    torch.set_num_threads(1)
    train, val = fmnist
    schedule = progressive_shrinking(epochs=(2, 1, 1, 1, 1, 1), lr=(0.1, 0.03, 0.03, 0.03, 0.03, 0.03))
    cfg = TrainConfig(global_batch=32, max_steps_per_epoch=15, resolutions=(24,), eval_images=500,
                      calib_images=256, ckpt_every=5)
    model = Trainer(cfg, schedule, tmp_path, train, val, progress=False).run()

    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["phase"] for h in history] == ["full"] + PHASES
    assert all(h["steps"] == 15 and math.isfinite(h["loss"]) for h in history)
    first, second = history[0], history[1]
    assert second["loss"] < first["loss"] - 0.1, "the full network's loss did not fall in its second epoch"
    assert first["loss"] > 1.6                       # starts near ln(10) with label smoothing
    assert second["top1_max"] > 0.3                  # chance is 0.1
    assert history[-1]["top1_max"] > 0.4 and history[-1]["top1_min"] > 0.2
    # distilled phases add the soft cross-entropy to the hard one
    assert all(h["loss"] > second["loss"] for h in history[2:])

    snaps = {p: torch.load(tmp_path / f"phase-{p}.pth", weights_only=True)["state_dict"] for p in PHASES}
    key = "blocks.1.conv.depth_conv.conv.7to5_matrix"
    fresh = get_supernet_record(cfg.supernet).build().state_dict()
    assert torch.equal(snaps["full"][key], fresh[key]), "the kernel transform moved before the elastic-kernel phase"
    assert not torch.equal(snaps["kernel"][key], snaps["full"][key]), "elastic-kernel phase never used 5×5 kernels"

    final = torch.load(tmp_path / "final.pth", weights_only=True)
    assert set(final) == {"state_dict"} and final["state_dict"].keys() == fresh.keys()
    rec = get_supernet_record(cfg.supernet)
    net = rec.build()
    net.load_state_dict(final["state_dict"])
    acc = evaluate_arch(net, rec.space.smallest(24), train, val, rec.mean, rec.std, calib_images=256, val_limit=500)
    assert acc == history[-1]["top1_min"]            # final.pth is the model the run evaluated
    assert torch.equal(model.state_dict()[key], final["state_dict"][key])


def test_lr_schedule_warms_up_then_decays_per_phase():
    full, kernel = progressive_shrinking(epochs=(2, 1, 1, 1, 1, 1)).phases[:2]
    lrs = [lr_at(full, e, s, 10) for e in range(2) for s in range(10)]
    assert lrs[0] < lrs[9] <= full.lr                # one warm-up epoch
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.05 * full.lr
    assert lr_at(kernel, 0, 0, 10) == kernel.lr < full.lr
