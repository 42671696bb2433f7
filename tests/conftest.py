"""Shared fixtures. ../shared/reference (official facts) sits beside the clone in CI."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not SHARED.is_dir():
        raise FileNotFoundError(f"{SHARED} is missing: CI checks out ../shared beside the repo; "
                                f"clone it there to run these tests")
    return SHARED


@pytest.fixture(scope="session")
def specialized_dir(reference_dir: Path) -> Path:
    return reference_dir / "ofa_specialized"


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Small forwards on a busy 2-core host run far faster on one intra-op thread (50x measured)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def library_log(caplog):
    """The library logger's records as text. The library only logs (a NullHandler); once the CLI
    has configured it in this process it stops propagating, so attach caplog's handler directly."""
    import logging

    from ofa_deploy.log import LOGGER

    LOGGER.addHandler(caplog.handler)
    with caplog.at_level(logging.INFO, logger="ofa_deploy"):
        yield caplog
    LOGGER.removeHandler(caplog.handler)
