"""Bad archs and arch-shaped inputs: every one refused with the field, the value and the choices;
the official dict form accepted wherever an arch is taken."""
import math

import numpy as np
import pytest

from ofa_deploy.arch import ArchBatch, ArchConfig
from ofa_deploy.errors import ArchError, OfaDeployError
from ofa_deploy.latency import load_latency_table
from ofa_deploy.profile import count_macs, count_params
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.supernets import get_supernet

TINY = "ofa_tiny_d123_e346_k357"
SPACE = get_supernet_record(TINY).space
TABLE = "latency_tables/ofa_tiny_d123_e346_k357/onnxruntime-cpu"


@pytest.fixture(scope="module")
def table():
    return load_latency_table(TABLE)


def _arch(**genes):
    return {**SPACE.largest().to_dict(), **genes}


def test_official_dict_with_r_list_predicts_like_archconfig(table):
    a = SPACE.sample(0)
    assert table.predict(a.to_official()) == pytest.approx(table.predict(a))
    assert count_macs(TINY, a.to_official()) == count_macs(TINY, a)
    assert count_params(TINY, a.to_dict()) == count_params(TINY, a)


def test_official_dict_with_image_size_key(table):
    a = SPACE.sample(1)
    d = {"ks": list(a.ks), "e": list(a.e), "d": list(a.d), "image_size": a.r}
    assert table.predict(d) == pytest.approx(table.predict(a))


def test_sample_active_subnet_dict_sets_and_predicts(table):
    net = get_supernet(TINY)
    cfg = net.sample_active_subnet(3)
    assert isinstance(table.predict({**cfg, "r": 28}), float)
    assert isinstance(count_macs(TINY, [{**cfg, "r": 24}, {**cfg, "r": 32}]), np.ndarray)


def test_arch_json_text_accepted(table):
    a = SPACE.sample(2)
    assert table.predict(a.to_json()) == pytest.approx(table.predict(a))


@pytest.mark.parametrize("genes,field,value", [
    ({"ks": [4] * 9}, "ks[0]", "4"),
    ({"e": [5] * 9}, "e[0]", "5"),
    ({"d": [5, 2, 2]}, "d[0]", "5"),
    ({"d": [0, 2, 2]}, "d[0]", "0"),
    ({"r": 26}, "resolution", "26"),
])
def test_gene_value_off_the_choices_is_refused_by_predict_and_count_macs(table, genes, field, value):
    for fn in (table.predict, lambda a: count_macs(TINY, a)):
        with pytest.raises(ArchError) as err:
            fn(_arch(**genes))
        msg = str(err.value)
        assert field in msg and value in msg


def test_kernel_3_point_7_is_not_truncated_to_3(table):
    with pytest.raises(ArchError, match=r"ks\[0\] = 3.7 is not a whole number"):
        table.predict(_arch(ks=[3.7] * 9))
    with pytest.raises(ArchError, match="3.7"):
        ArchConfig(ks=(3.7,) * 9, e=(3,) * 9, d=(1, 1, 1), r=24)


def test_resolution_28_point_7_is_refused():
    with pytest.raises(ArchError, match="28.7"):
        ArchConfig.from_dict(_arch(r=28.7))


@pytest.mark.parametrize("genes,needle", [
    ({"ks": [3] * 8}, "ks has 8 values, expected 9"),
    ({"d": [1, 2]}, "d has 2 values, expected 3"),
    ({"e": [3] * 10}, "e has 10 values, expected 9"),
])
def test_gene_list_of_wrong_length_names_gene_and_count(table, genes, needle):
    with pytest.raises(ArchError, match=needle):
        table.predict(_arch(**genes))


@pytest.mark.parametrize("value", ["x", None, float("nan"), True])
def test_gene_of_wrong_type_is_named(table, value):
    with pytest.raises(ArchError, match=r"ks\[0\]"):
        table.predict(_arch(ks=[value] * 9))


def test_gene_given_as_a_string_is_refused():
    with pytest.raises(ArchError, match="must be a list of numbers"):
        ArchConfig(ks="333333333", e=(3,) * 9, d=(1, 1, 1), r=24)


def test_arch_dict_with_unknown_key_is_refused(table):
    with pytest.raises(ArchError, match="unknown key"):
        table.predict({**_arch(), "kernel": [3] * 9})


def test_arch_dict_with_two_resolutions_is_refused():
    with pytest.raises(ArchError, match="2 resolutions"):
        ArchConfig.from_dict(_arch(r=[24, 28]))


def test_arch_text_that_is_not_json_is_refused():
    with pytest.raises(ArchError, match="nor JSON"):
        ArchConfig.coerce("notjson", SPACE)


def test_arch_of_wrong_type_is_refused(table):
    with pytest.raises(ArchError, match="expected an arch"):
        table.predict([42])


def test_arch_batch_with_gene_off_the_choices_is_refused(table):
    s = ArchBatch.sample(SPACE, 8, 0)
    batch = ArchBatch(SPACE, s.ks.copy(), s.e, s.d, s.r, s.w)  # built by hand: not yet checked
    batch.ks[3, 2] = 4
    with pytest.raises(ArchError, match=r"arch 3 .* ks\[2\] = 4"):
        table.predict(batch)


def test_arch_batch_with_wrong_gene_shape_is_refused():
    batch = ArchBatch.sample(SPACE, 4, 0)
    bad = ArchBatch(SPACE, batch.ks[:, :8], batch.e, batch.d, batch.r, batch.w)
    with pytest.raises(ArchError, match="shape"):
        count_macs(TINY, bad)


def test_arch_batch_with_off_grid_resolution_is_refused(table):
    s = ArchBatch.sample(SPACE, 4, 0)
    batch = ArchBatch(SPACE, s.ks, s.e, s.d, s.r.copy(), s.w)
    batch.r[1] = 26
    with pytest.raises(ArchError, match="resolution 26"):
        table.predict(batch)


def test_sampled_batches_are_validated_once_not_per_call():
    batch = ArchBatch.sample(SPACE, 16, 0)
    assert batch.checked  # drawn from the space: trusted, search pays nothing per generation
    child = batch.mutate(1).crossover(batch, 2)
    assert child.checked


@pytest.mark.parametrize("kwargs,needle", [
    ({"ks": 4}, "ks[0] = 4"), ({"e": 5}, "e[0] = 5"), ({"d": 0}, "d[0] = 0"), ({"ks": 3.7}, "3.7"),
    ({"d": [1, 2]}, "d has 2 values"), ({"ks": [3] * 8}, "ks has 8 values"),
])
def test_set_active_subnet_refuses_at_once(kwargs, needle):
    net = get_supernet(TINY)
    with pytest.raises(ArchError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        net.set_active_subnet(**kwargs)


def test_set_active_subnet_resnet_width_index_out_of_range():
    net = get_supernet("ofa_resnet50")
    with pytest.raises(ArchError, match="w"):
        net.set_active_subnet(w=3)


def test_set_arch_with_fractional_kernel_is_refused():
    net = get_supernet(TINY)
    with pytest.raises(ArchError):
        net.set_arch(ArchConfig.from_dict(_arch(ks=[3.7] * 9)))


def test_arch_errors_are_ofa_deploy_errors():
    assert issubclass(ArchError, OfaDeployError) and issubclass(ArchError, ValueError)
