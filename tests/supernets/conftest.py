"""Supernet tests run many small forwards: one intra-op thread is many times faster than two on
a loaded 2-core host (thread hand-offs dominate tiny convolutions)."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
