"""`ofa-deploy train` as a real subprocess with tiny settings (2 shared CPU cores: small batches,
few steps, one thread), and reading what a run leaves behind."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

# Every run of the CLI in these tests: a short PS schedule, a distilled phase and an expand phase
# (re-organisation) included, 3 steps an epoch of 16 images, 24 px only.
TINY_RUN = ["--epochs", "1", "1", "1", "0", "1", "0", "--lr", "0.1", "0.05", "0.05", "0.05", "0.05", "0.05",
            "--batch", "16", "--max-steps-per-epoch", "3", "--resolutions", "24", "--val-images", "100",
            "--calib-images", "64", "--threads", "1", "--ckpt-every", "1"]


def train_command(out: Path, *extra: str) -> list[str]:
    """The argument list of `ofa-deploy train` into `out` with the tiny settings."""
    return [sys.executable, "-m", "ofa_deploy.cli", "train", "--out", str(out), *TINY_RUN, *extra]


def child_env() -> dict[str, str]:
    """The environment of a training subprocess: one thread, no torchrun variables inherited."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR",
                                                           "MASTER_PORT", "LOCAL_WORLD_SIZE")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run_train(out: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `ofa-deploy train` to the end; fail with its output if it exits non-zero."""
    proc = subprocess.run(train_command(out, *extra), capture_output=True, text=True, timeout=timeout,
                          env=child_env())
    assert proc.returncode == 0, f"train exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    """The state_dict of a finished run's final.pth (official format)."""
    return torch.load(out / "final.pth", map_location="cpu", weights_only=True)["state_dict"]


