"""Small real subnets to export: the tiny space (1×1×28×28) keeps backend tests fast."""
import pytest
import torch

from ofa_deploy import get_supernet
from ofa_deploy.supernets.mbv3 import TINY


@pytest.fixture(scope="session")
def tiny_subnet():
    torch.manual_seed(0)
    net = get_supernet("tiny")
    for m in net.modules():  # non-trivial BN statistics so parity checks can fail
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    net.set_arch(TINY.space.sample(rng=3, resolutions=(28,)))
    sub = net.get_active_subnet().eval()
    sub.input_shape = (1, 1, 28, 28)
    sub.card = {"name": "tiny_test", "supernet": TINY.name, "resolution": 28, "in_channels": 1}
    return sub


@pytest.fixture(scope="session")
def calib():
    g = torch.Generator().manual_seed(1)
    return [torch.randn(8, 1, 28, 28, generator=g) for _ in range(2)]
