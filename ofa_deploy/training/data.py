"""Training data: Fashion-MNIST from the Debian package `dataset-fashion-mnist` (gzipped IDX
files), an ImageNet-style folder loader, and batch augmentation written in torch.

Batches are built from (seed, epoch, step) alone, so every DDP rank can take its slice of the
same global batch and a resumed run sees exactly the batches it would have seen."""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from ..errors import BadArgumentError, FileFormatError

FASHION_MNIST_DIR = Path(os.environ.get("OFA_DEPLOY_FMNIST", "/usr/share/datasets/fashion-mnist"))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_NAMES = ("fashion-mnist", "fashion_mnist", "fmnist")   # accepted as a data source
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read a (gzipped) IDX file; fail naming the file when it is not valid IDX."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise FileFormatError(f"{path}: not an IDX file (bad magic {data[:4].hex()}); expected 0x0000 + type + ndim")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    body = data[4 + 4 * ndim:]
    need = int(np.prod(dims)) * dtype.itemsize
    if len(body) != need:
        raise FileFormatError(f"{path}: IDX header says {dims} ({need} bytes) but the file holds {len(body)} bytes; "
                         f"the file is truncated or corrupt — reinstall dataset-fashion-mnist")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


@dataclass
class ImageSet:
    """Images as a uint8 tensor [N, C, H, W] with int64 labels, held in memory."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray | torch.Tensor) -> "ImageSet":
        """The images at `idx`, in that order."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        return ImageSet(self.images[idx], self.labels[idx], self.classes)


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> ImageSet:
    """Fashion-MNIST 'train' (60k) or 'test' (10k) as an ImageSet."""
    root = Path(root) if root is not None else FASHION_MNIST_DIR
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise BadArgumentError(f"split must be 'train' or 'test', not {split!r} (use split_train_val for val)")
    img_path, lab_path = root / f"{prefix}-images-idx3-ubyte.gz", root / f"{prefix}-labels-idx1-ubyte.gz"
    if not img_path.exists() or not lab_path.exists():
        raise FileNotFoundError(f"Fashion-MNIST not found at {root}: install it with "
                                f"`sudo apt-get install dataset-fashion-mnist` (or set OFA_DEPLOY_FMNIST)")
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise FileFormatError(f"{img_path}: expected images [N, 28, 28] and N labels, got {images.shape} and {labels.shape}")
    return ImageSet(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)),
                    FASHION_MNIST_CLASSES)


def split_train_val(data: ImageSet, n_val: int = 5000, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """A seeded split of a training set into train and validation parts."""
    perm = np.random.default_rng(seed).permutation(len(data))
    return data.subset(perm[n_val:]), data.subset(perm[:n_val])


def load_image_folder(root: str | Path, size: int, channels: int = 3) -> ImageSet:
    """An ImageNet-style folder (one sub-folder of JPEG/PNG files per class), resized to size×size."""
    from PIL import Image

    root = Path(root)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    if not classes:
        raise FileNotFoundError(f"{root}: expected one sub-folder per class holding .jpg/.png images")
    images, labels = [], []
    for label, cls in enumerate(classes):
        for f in sorted((root / cls).iterdir()):
            if f.suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp", ".webp"):
                continue
            with Image.open(f) as im:
                im = im.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.uint8)
            images.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))
            labels.append(label)
    if not images:
        raise FileNotFoundError(f"{root}: no images found in the class folders {classes[:5]}")
    return ImageSet(torch.from_numpy(np.stack(images)), torch.tensor(labels), tuple(classes))


@dataclass(frozen=True)
class Augment:
    """Random crop with zero padding, horizontal flip, resize to the batch's resolution, normalise."""

    pad: int = 2
    flip: bool = True
    mean: Sequence[float] = (FASHION_MNIST_MEAN,)
    std: Sequence[float] = (FASHION_MNIST_STD,)

    def __call__(self, images: torch.Tensor, size: int, g: torch.Generator | None) -> torch.Tensor:
        x = images.float() / 255.0
        n, _, h, w = x.shape
        if g is not None and self.pad:
            x = F.pad(x, (self.pad,) * 4)
            dy = torch.randint(0, 2 * self.pad + 1, (n,), generator=g)
            dx = torch.randint(0, 2 * self.pad + 1, (n,), generator=g)
            rows = (dy[:, None] + torch.arange(h)[None])[:, None, :, None]
            cols = (dx[:, None] + torch.arange(w)[None])[:, None, None, :]
            x = x[torch.arange(n)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]
        if g is not None and self.flip:
            flip = torch.rand(n, generator=g) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if size != h:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        mean = torch.tensor(self.mean)[None, :, None, None]
        std = torch.tensor(self.std)[None, :, None, None]
        return (x - mean) / std


def eval_transform(data: ImageSet, size: int, mean=(FASHION_MNIST_MEAN,), std=(FASHION_MNIST_STD,)) -> torch.Tensor:
    """The whole set, resized and normalised, as one float tensor (no augmentation)."""
    return Augment(pad=0, flip=False, mean=mean, std=std)(data.images, size, None)


def batches(data: ImageSet, batch_size: int, size: int, seed: int = 0, mean=(FASHION_MNIST_MEAN,),
            std=(FASHION_MNIST_STD,), limit: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed-order evaluation batches (for BN recalibration and accuracy)."""
    n = len(data) if limit is None else min(limit, len(data))
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(data))[:n])
    for i in range(0, n, batch_size):
        idx = order[i:i + batch_size]
        yield eval_transform(data.subset(idx), size, mean, std), data.labels[idx]


def training_batch(data: ImageSet, augment: Augment, global_batch: int, seed: int, epoch: int, step: int,
                   resolutions: Sequence[int], rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor, int]:
    """This rank's slice of global batch `step` of `epoch` (images, labels, resolution).

    The permutation, augmentation and the batch's resolution depend only on (seed, epoch, step),
    so all ranks agree and a resumed run is identical to an uninterrupted one."""
    if global_batch % world:
        raise BadArgumentError(f"global batch {global_batch} does not split over {world} processes; use a multiple")
    perm = np.random.default_rng([seed, epoch]).permutation(len(data))
    idx = torch.from_numpy(perm[step * global_batch:(step + 1) * global_batch])
    g = torch.Generator().manual_seed(int(np.random.default_rng([seed, epoch, step]).integers(2 ** 62)))
    size = int(resolutions[torch.randint(0, len(resolutions), (1,), generator=g).item()])
    x = augment(data.images[idx], size, g)
    per = global_batch // world
    return x[rank * per:(rank + 1) * per], data.labels[idx][rank * per:(rank + 1) * per], size


def steps_per_epoch(n: int, global_batch: int) -> int:
    """Full global batches in an epoch (the remainder is dropped, as the permutation changes each epoch)."""
    return n // global_batch


def load_training_data(source: str, size: int, channels: int = 1, n_val: int = 5000,
                       seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """(train, val) for `source`: 'fashion-mnist' (a seeded split of its training set), or an
    image folder holding `train/` and `val/` class folders, or class folders alone (split here)."""
    if source.lower() in FASHION_MNIST_NAMES:
        return split_train_val(load_fashion_mnist("train"), n_val=n_val, seed=seed)
    root = Path(source)
    if not root.is_dir():
        raise FileNotFoundError(f"training data {source!r} is neither 'fashion-mnist' nor a folder; pass "
                                f"'fashion-mnist' or a folder of class sub-folders (optionally under train/ and val/)")
    if (root / "train").is_dir() and (root / "val").is_dir():
        return load_image_folder(root / "train", size, channels), load_image_folder(root / "val", size, channels)
    data = load_image_folder(root, size, channels)
    if n_val >= len(data):
        raise BadArgumentError(f"{root}: {len(data)} images cannot spare {n_val} for validation; pass a smaller --val-images")
    return split_train_val(data, n_val=n_val, seed=seed)
