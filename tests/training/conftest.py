"""Fixtures for the training tests: real Fashion-MNIST, and `ofa-deploy train` run as a real
subprocess with tiny settings (2 shared CPU cores: small batches, few steps, one thread)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ofa_deploy.training import load_fashion_mnist, split_train_val
from tests.training.runs import run_train


@pytest.fixture(scope="session")
def fmnist():
    """(train, val) of the real Fashion-MNIST training set, split 55k/5k."""
    return split_train_val(load_fashion_mnist("train"), n_val=5000, seed=0)


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory) -> Path:
    """One uninterrupted single-process run with 2 micro-batches: the reference both the DDP test
    (2 processes of 1 micro-batch) and the resume test (killed and restarted) must reproduce."""
    out = tmp_path_factory.mktemp("reference")
    run_train(out, "--micro-batches", "2")
    return out
