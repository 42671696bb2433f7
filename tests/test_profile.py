"""The analytic MAC/parameter counter against counting hooks on built nets."""
import numpy as np

from ofa_deploy import count_macs, count_params
from ofa_deploy.arch import ArchBatch
from ofa_deploy.profile import profile_module
from ofa_deploy.supernets.mbv3 import TINY, W10, OFAMobileNetV3


def test_counter_equals_hooks_on_built_subnets():
    for spec, n in ((W10, 8), (TINY, 20)):
        net = OFAMobileNetV3(spec)
        for arch in ArchBatch.sample(spec.space, n, rng=5).to_archs():
            net.set_arch(arch)
            macs, params = profile_module(net.get_active_subnet(), (1, spec.in_channels, arch.r, arch.r))
            assert count_macs(spec.name, arch) == macs
            assert count_params(spec.name, arch) == params


def test_batch_prediction_equals_per_arch():
    batch = ArchBatch.sample(W10.space, 500, rng=0, resolutions=(128, 172, 224, 260))
    vec = count_macs(W10.name, batch)
    one = np.array([count_macs(W10.name, a) for a in batch.to_archs()[:40]])
    assert vec.shape == (500,) and np.array_equal(vec[:40], one)


def test_extremes_of_w10_at_224():
    big, small = W10.space.largest(224), W10.space.smallest(224)
    assert count_macs(W10.name, big) > 4 * count_macs(W10.name, small)
    assert count_params(W10.name, big) == 7_664_760  # supernet params minus the 20 kernel matrices
