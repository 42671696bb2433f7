"""Bad arguments to the library's search / get_model / predictors: refused by name before any
search runs; the official arch dict accepted wherever an arch is taken; an estimate used outside
what it was fitted on is flagged in the result and in the model card."""
import math

import pytest

from ofa_deploy.errors import ArchError, BadArgumentError
from ofa_deploy.registry import get_supernet_record

TINY = "ofa_tiny_d123_e346_k357"
SPACE = get_supernet_record(TINY).space


@pytest.mark.parametrize("latency,needle", [("abc", "latency='abc' is not a number"),
                                            ([0.3], r"latency=\[0.3\] is not a number"),
                                            (math.nan, "latency=nan is not a finite number"),
                                            (-1, "latency=-1 must be > 0")])
def test_search_latency_budget_that_is_not_a_positive_number(latency, needle):
    from ofa_deploy.search import search

    with pytest.raises(BadArgumentError, match=needle):
        search(TINY, device="onnxruntime-cpu", latency=latency)


@pytest.mark.parametrize("kwargs,needle", [({"resolutions": [28.7]}, "28.7"), ({"resolutions": [26]}, "26"),
                                           ({"seed": -1}, "seed=-1"), ({"seed": 1.5}, "seed=1.5")])
def test_search_resolutions_and_seed_refused(kwargs, needle):
    from ofa_deploy.search import search

    with pytest.raises((ArchError, BadArgumentError), match=needle):
        search(TINY, device="onnxruntime-cpu", latency=1, **kwargs)


def test_search_latency_table_of_the_wrong_type():
    from ofa_deploy.search import search

    with pytest.raises(BadArgumentError, match="latency_table must be a path"):
        search(TINY, latency_table=42, latency=1)


def test_accuracy_predictor_of_the_wrong_type_or_missing(tmp_path):
    from ofa_deploy.accuracy import load_accuracy_predictor
    from ofa_deploy.errors import MissingFileError

    with pytest.raises(BadArgumentError, match="accuracy_predictor must be"):
        load_accuracy_predictor(42, TINY)
    with pytest.raises(MissingFileError, match="does not exist"):
        load_accuracy_predictor(str(tmp_path / "none.pth"), TINY)


def test_estimated_pixel1_predictor_refuses_a_resolution_off_the_space():
    from ofa_deploy.latency import predictor_for_device

    with pytest.raises(ArchError, match="resolution 100 is outside the space"):
        predictor_for_device("pixel1", TINY).predict({**SPACE.largest().to_dict(), "r": 100})


def test_get_model_takes_the_official_arch_dict():
    from ofa_deploy.zoo import get_model

    arch = SPACE.sample(0)
    m = get_model(supernet=TINY, arch=arch.to_official(), progress=False, verify=False, calib_data=None)
    assert m.arch == arch


def test_get_model_arch_text_that_is_not_an_arch():
    from ofa_deploy.zoo import get_model

    with pytest.raises(ArchError, match="arch='notjson' is neither the short form"):
        get_model(supernet=TINY, arch="notjson", progress=False, verify=False, calib_data=None)


def test_estimated_device_outside_its_fitted_range_warns_in_the_card():
    from ofa_deploy.zoo import get_model

    m = get_model(supernet=TINY, device="cpu", latency=5.5, progress=False, verify=False, calib_data=None,
                  pretrained=False)
    assert "extrapolated" in m.card.predicted_latency["warning"]
