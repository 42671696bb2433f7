"""Preprocessing as data (a JSON-ready record per supernet) and as a transform that reproduces
how the demo measures its subnet on real Fashion-MNIST test images."""
import json

import numpy as np
import pytest
import torch

from ofa_deploy.arch import ArchConfig
from ofa_deploy.errors import BadArgumentError
from ofa_deploy.preprocess import Preprocessing, create_transform, preprocessing_for, resolve_preprocessing
from ofa_deploy.registry import SUPERNETS, get_supernet_record
from ofa_deploy.training.data import eval_transform, load_fashion_mnist

# The demo's subnet (`make demo`: ORT budget 0.132 ms, seed 0) and its measured test top-1 (README).
DEMO_ARCH, DEMO_TOP1 = "r28-d322-k575537353-e663644334", 0.9175


@pytest.mark.parametrize("name", SUPERNETS.names())
def test_every_supernet_has_a_json_round_tripping_record(name):
    rec = get_supernet_record(name)
    cfg = preprocessing_for(rec, rec.space.resolutions[0])
    back = Preprocessing.from_dict(json.loads(cfg.to_json()))
    assert back == cfg and cfg.size == rec.space.resolutions[0]
    assert list(cfg.mean) == list(rec.mean) and cfg.channels == len(rec.mean)
    x = create_transform(cfg.to_dict())(np.zeros((40, 50, cfg.channels), dtype=np.uint8))
    assert x.shape == (1, cfg.channels, cfg.size, cfg.size) and x.dtype == torch.float32


def test_imagenet_record_resizes_the_shorter_side_then_centre_crops():
    cfg = resolve_preprocessing("ofa_mbv3", resolution=224)
    assert (cfg.resize, cfg.resize_size, cfg.channels) == ("bilinear", 256, 3)
    img = torch.zeros(3, 300, 600, dtype=torch.uint8)
    img[:, :, 300:] = 255                       # right half white: the crop keeps the middle
    x = create_transform(cfg)(img)
    assert x.shape == (1, 3, 224, 224)
    assert x[0, :, :, 0].max() < x[0, :, :, -1].min()


@pytest.mark.parametrize("size", [24, 32])
def test_tiny_transform_is_the_training_pipelines_evaluation_bit_for_bit(size):
    test = load_fashion_mnist("test").subset(np.arange(500))
    rec = get_supernet_record("tiny")
    x = create_transform(preprocessing_for("tiny", size))(test.images)
    np.testing.assert_array_equal(x.numpy(), eval_transform(test, size, rec.mean, rec.std).numpy())
    padded = torch.nn.functional.pad(test.images.float() / 255, ((size - 28) // 2,) * 4) if size > 28 else None
    if padded is not None:   # zero padding 28 → 32 is a different input, so the record must say "resize"
        assert not torch.allclose((padded - rec.mean[0]) / rec.std[0], x)


def test_transform_reproduces_the_demos_measured_top1_on_real_test_images():
    from ofa_deploy.zoo import get_model

    arch = ArchConfig.parse(DEMO_ARCH)
    model = get_model("onnxruntime-cpu", None, "tiny", arch=arch, progress=False, verify=False)
    cfg = resolve_preprocessing(model)
    assert cfg.size == 28 and cfg.dataset == "fashion-mnist"
    assert Preprocessing.from_dict(model.card.preprocessing) == cfg and model.transform.cfg == cfg
    test = load_fashion_mnist("test")
    transform, hits = model.transform, 0
    with torch.no_grad():
        for i in range(0, len(test), 1000):     # raw uint8 [N, 1, 28, 28], as a deployment receives them
            hits += int((model(transform(test.images[i:i + 1000])).argmax(1) == test.labels[i:i + 1000]).sum())
    assert hits / len(test) == DEMO_TOP1


def test_bad_inputs_name_the_problem():
    with pytest.raises(BadArgumentError, match="channels"):
        Preprocessing(size=32, channels=2, mean=(0.5, 0.5), std=(0.5, 0.5))
    with pytest.raises(BadArgumentError, match="images must be"):
        create_transform(preprocessing_for("tiny"))(np.zeros((1, 1, 1, 28, 28), dtype=np.uint8))
    with pytest.raises(BadArgumentError, match="supernet name"):
        resolve_preprocessing(object())
