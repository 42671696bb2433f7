"""DDP on 2 real processes (gloo over localhost) computes what 1 process computes with 2
micro-batches of the same global batch: the weights agree bit for bit (tolerance 0).

Why exact is possible: each micro-batch is run as if it were a rank (same BN starting statistics,
dropout seeded by the micro-batch's global index, its gradient kept apart and summed in rank
order), and a 2-way all-reduce of a + b is the same float sum as the single process's a + b."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from tests.training.runs import child_env, final_weights, run_train, train_command


def _assert_same_weights(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys()
    worst = max((x.float() - b[k].float()).abs().max().item() for k, x in a.items() if x.numel())
    differing = [k for k, x in a.items() if not torch.equal(x, b[k])]
    assert not differing, f"{what}: {len(differing)} tensors differ (max |Δ| {worst:.3g}), first {differing[:3]}"


def test_two_processes_equal_one_process_with_two_micro_batches(reference_run, tmp_path):
    run_train(tmp_path, "--nproc", "2")
    ref, ddp = final_weights(reference_run), final_weights(tmp_path)
    # the run moved the weights, or agreement would mean nothing
    init = torch.load(reference_run / "phase-full.pth", weights_only=True)["state_dict"]
    assert any(not torch.equal(init[k], ref[k]) for k in ref if "matrix" in k)
    _assert_same_weights(ddp, ref, "--nproc 2 vs --micro-batches 2")


def test_torchrun_launch_matches_too(reference_run, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")   # installed with torch, beside python
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", *train_command(tmp_path)[2:]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=child_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_weights(final_weights(tmp_path), final_weights(reference_run), "torchrun vs --micro-batches 2")
