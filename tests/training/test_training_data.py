"""Training data: the real Fashion-MNIST IDX files, their validation, the image-folder loader on
PNGs written here, and batches that depend only on (seed, epoch, step)."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from ofa_deploy.training import load_fashion_mnist, load_image_folder
from ofa_deploy.training.data import (FASHION_MNIST_DIR, Augment, load_training_data, read_idx, steps_per_epoch,
                                      training_batch)


def test_fashion_mnist_is_the_real_dataset(fmnist):
    test = load_fashion_mnist("test")
    train, val = fmnist
    assert test.images.shape == (10000, 1, 28, 28) and test.images.dtype == torch.uint8
    assert (len(train), len(val)) == (55000, 5000)
    assert torch.bincount(test.labels).tolist() == [1000] * 10     # t10k is balanced
    assert test.classes[0] == "T-shirt/top" and test.classes[9] == "Ankle boot"
    mean = train.images.float().mean().item() / 255
    assert abs(mean - 0.2860) < 0.005                              # the registry's normalisation


def test_bad_idx_files_fail_naming_the_file(tmp_path):
    good = read_idx(FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    bad_magic = tmp_path / "bad-magic.gz"
    bad_magic.write_bytes(gzip.compress(b"\x01\x02\x03\x04" + bytes(10)))
    with pytest.raises(ValueError, match="bad-magic.gz.*not an IDX file"):
        read_idx(bad_magic)
    truncated = tmp_path / "truncated-labels.gz"
    truncated.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + len(good).to_bytes(4, "big") + bytes(100)))
    with pytest.raises(ValueError, match="truncated-labels.gz.*truncated or corrupt"):
        read_idx(truncated)
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train", root=tmp_path)


def _write_png_folder(root, classes=("cat", "dog", "fox"), per_class=4, size=(20, 14)):
    """Class folders of RGB PNGs whose red channel encodes the class (so labels can be checked)."""
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            arr = np.full((size[1], size[0], 3), (40 + 80 * label, i * 10, 255 - i), dtype=np.uint8)
            Image.fromarray(arr).save(root / name / f"{i}.png")
    (root / "cat" / "notes.txt").write_text("not an image")


def test_image_folder_loader_reads_pngs(tmp_path):
    _write_png_folder(tmp_path / "imgs")
    rgb = load_image_folder(tmp_path / "imgs", size=16)
    assert rgb.classes == ("cat", "dog", "fox") and len(rgb) == 12
    assert rgb.images.shape == (12, 3, 16, 16) and rgb.images.dtype == torch.uint8
    assert rgb.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    red = rgb.images[:, 0].float().mean(dim=(1, 2))
    assert torch.allclose(red, (40 + 80 * rgb.labels).float(), atol=1)
    gray = load_image_folder(tmp_path / "imgs", size=8, channels=1)
    assert gray.images.shape == (12, 1, 8, 8)
    with pytest.raises(FileNotFoundError, match="one sub-folder per class"):
        load_image_folder(tmp_path / "missing", size=16)


def test_training_data_from_a_folder(tmp_path):
    _write_png_folder(tmp_path / "split" / "train")
    _write_png_folder(tmp_path / "split" / "val", per_class=2)
    train, val = load_training_data(str(tmp_path / "split"), size=16, channels=3)
    assert (len(train), len(val)) == (12, 6)
    _write_png_folder(tmp_path / "flat")
    train, val = load_training_data(str(tmp_path / "flat"), size=16, channels=3, n_val=3, seed=1)
    assert (len(train), len(val)) == (9, 3)
    with pytest.raises(ValueError, match="cannot spare 50"):
        load_training_data(str(tmp_path / "flat"), size=16, n_val=50)


def test_batches_depend_only_on_seed_epoch_step_and_split_over_ranks(fmnist):
    train, _ = fmnist
    aug = Augment()
    x, y, r = training_batch(train, aug, 8, seed=3, epoch=1, step=5, resolutions=(24, 28, 32))
    x2, y2, r2 = training_batch(train, aug, 8, seed=3, epoch=1, step=5, resolutions=(24, 28, 32))
    assert r == r2 and x.shape == (8, 1, r, r) and torch.equal(x, x2) and torch.equal(y, y2)
    halves = [training_batch(train, aug, 8, 3, 1, 5, (24, 28, 32), rank=k, world=2) for k in range(2)]
    assert torch.equal(torch.cat([h[0] for h in halves]), x) and torch.equal(torch.cat([h[1] for h in halves]), y)
    other, _, _ = training_batch(train, aug, 8, seed=3, epoch=1, step=6, resolutions=(28,))
    assert other.shape == (8, 1, 28, 28)
    assert steps_per_epoch(len(train), 256) == 214
    with pytest.raises(ValueError, match="does not split over 3"):
        training_batch(train, aug, 8, 3, 1, 5, (24,), rank=0, world=3)
