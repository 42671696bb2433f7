"""BN recalibration of an extracted subnet."""
import pytest
import torch

from ofa_deploy import recalibrate_bn
from ofa_deploy.supernets.mbv3 import TINY, OFAMobileNetV3


def test_recalibration_equals_running_average_of_batch_stats():
    torch.manual_seed(0)
    net = OFAMobileNetV3(TINY).eval()
    net.set_arch(TINY.space.sample(rng=0))
    sub = net.get_active_subnet()
    batches = [torch.randn(8, 1, 28, 28) * 2 + 1 for _ in range(4)]
    recalibrate_bn(sub, batches)
    # by hand for the stem BN: sample-weighted mean of per-batch statistics
    with torch.no_grad():
        acts = [sub.first_conv.conv(b) for b in batches]
    mean = torch.stack([a.mean(dim=(0, 2, 3)) for a in acts]).mean(0)
    var = torch.stack([a.var(dim=(0, 2, 3), unbiased=False) for a in acts]).mean(0)
    assert torch.allclose(sub.first_conv.bn.running_mean, mean, atol=1e-5)
    assert torch.allclose(sub.first_conv.bn.running_var, var, atol=1e-4)
    assert not sub.training
    # the BN forwards are restored: eval output now uses the new running statistics
    out = sub(batches[0])
    assert torch.isfinite(out).all()
    assert "forward" not in vars(sub.first_conv.bn)


def test_empty_loader_is_an_error():
    net = OFAMobileNetV3(TINY).get_active_subnet()
    with pytest.raises(ValueError, match="no batches"):
        recalibrate_bn(net, [])
