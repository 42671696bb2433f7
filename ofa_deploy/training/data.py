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
from ..errors import BadArgumentError, DataNotFoundError, FileFormatError

FASHION_MNIST_DIR = Path(os.environ.get("OFA_DEPLOY_FMNIST", "/usr/share/datasets/fashion-mnist"))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_NAMES = ("fashion-mnist", "fashion_mnist", "fmnist")   # accepted as a data source
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
FOLDER_LAYOUT = "one sub-folder per class holding .jpg/.png images (optionally under train/ and val/)"
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


def fashion_mnist_files(split: str = "train", root: str | Path | None = None) -> tuple[Path, Path]:
    """(images, labels) IDX files of a Fashion-MNIST split, or DataNotFoundError saying how to install them."""
    root = Path(root) if root is not None else FASHION_MNIST_DIR
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise BadArgumentError(f"split must be 'train' or 'test', not {split!r} (use split_train_val for val)")
    img_path, lab_path = root / f"{prefix}-images-idx3-ubyte.gz", root / f"{prefix}-labels-idx1-ubyte.gz"
    if not img_path.exists() or not lab_path.exists():
        raise DataNotFoundError(f"Fashion-MNIST not found at {root}: install it with "
                                f"`sudo apt-get install dataset-fashion-mnist` (or set OFA_DEPLOY_FMNIST)")
    return img_path, lab_path


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> ImageSet:
    """Fashion-MNIST 'train' (60k) or 'test' (10k) as an ImageSet."""
    img_path, lab_path = fashion_mnist_files(split, root)
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise FileFormatError(f"{img_path}: expected images [N, 28, 28] and N labels, got {images.shape} and {labels.shape}")
    return ImageSet(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)),
                    FASHION_MNIST_CLASSES)


def split_train_val(data: ImageSet, n_val: int = 5000, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """A seeded split of a training set into train and validation parts."""
    perm = np.random.default_rng(seed).permutation(len(data))
    return data.subset(perm[n_val:]), data.subset(perm[:n_val])


def image_files(root: str | Path) -> tuple[tuple[str, ...], list[tuple[Path, int]]]:
    """(class names, [(image file, label)]) of an ImageNet-style folder, in a fixed order; raises
    DataNotFoundError naming the folder when it has no class folders or a class folder no images."""
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder; expected {FOLDER_LAYOUT}")
    classes = tuple(sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")))
    loose = [f.name for f in root.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES]
    if not classes:
        what = f"holds {len(loose)} image(s) but no class sub-folders" if loose else "is empty"
        raise DataNotFoundError(f"{root} {what}; expected {FOLDER_LAYOUT}")
    files = []
    for label, cls in enumerate(classes):
        found = [f for f in sorted((root / cls).iterdir()) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
        if not found:
            raise DataNotFoundError(f"class folder {root / cls} holds no .jpg/.png images; add some or remove "
                                    "the folder, so that every sub-folder is a class with images")
        files.extend((f, label) for f in found)
    return classes, files


def _read_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One image file as uint8 [C, size, size], or FileFormatError naming the file."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as exc:   # PIL's errors for unreadable, truncated, corrupt files
        raise FileFormatError(f"image {path} cannot be read ({exc}); it is corrupt, truncated or not an "
                              "image — replace or delete it") from None
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def check_image_folder(root: str | Path) -> int:
    """The number of images in a class-folder tree, after opening every file's header (PIL verify),
    so a corrupt or truncated image is named before any work starts."""
    from PIL import Image

    _, files = image_files(root)
    for path, _ in files:
        try:
            with Image.open(path) as im:
                im.verify()
        except (OSError, SyntaxError, ValueError) as exc:
            raise FileFormatError(f"image {path} cannot be read ({exc}); it is corrupt, truncated or not an "
                                  "image — replace or delete it") from None
    return len(files)


def load_image_folder(root: str | Path, size: int, channels: int = 3) -> ImageSet:
    """An ImageNet-style folder (one sub-folder of JPEG/PNG files per class), resized to size×size."""
    classes, files = image_files(root)
    images = [_read_image(f, size, channels) for f, _ in files]
    labels = [label for _, label in files]
    return ImageSet(torch.from_numpy(np.stack(images)), torch.tensor(labels), classes)


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


def training_folders(source: str) -> tuple[Path, ...] | None:
    """The class-folder trees `source` names: (train, val) when it holds both, (root,) when it is a
    folder of class folders, None for Fashion-MNIST; DataNotFoundError for anything else."""
    if source.lower() in FASHION_MNIST_NAMES:
        return None
    root = Path(source)
    if not root.is_dir():
        raise DataNotFoundError(f"data={source!r} is neither 'fashion-mnist' nor a folder; pass "
                                f"'fashion-mnist' or a folder with {FOLDER_LAYOUT}")
    if (root / "train").is_dir() and (root / "val").is_dir():
        return root / "train", root / "val"
    for half, other in (("train", "val"), ("val", "train")):
        if (root / half).is_dir() and not (root / other).exists():
            raise DataNotFoundError(f"{root} has {half}/ but no {other}/; add {root / other} (same class "
                                    f"folders) or put the class folders directly in {root}")
    return (root,)


def check_training_data(source: str, n_val: int = 5000, n_classes: int | None = None) -> int:
    """Check a training-data source before any work starts: it exists, every image opens, there are
    images to spare `n_val` for validation and no more classes than the model has (`n_classes`).
    Returns the number of images (train + val)."""
    from ..errors import check_number

    n_val = check_number("val_images", n_val, minimum=1, integer=True)
    folders = training_folders(source)
    if folders is None:
        n = len(read_idx(fashion_mnist_files('train')[1]))
        if n_val >= n:
            raise BadArgumentError(f"Fashion-MNIST's {n} training images cannot spare {n_val} for validation; "
                                   f"pass a smaller val_images= (at most {n - 1})", "val_images")
        return n
    counts = [check_image_folder(f) for f in folders]
    classes = [image_files(f)[0] for f in folders]
    if len(folders) == 2 and classes[0] != classes[1]:
        raise DataNotFoundError(f"{folders[0]} and {folders[1]} hold different class folders "
                                f"({list(classes[0])[:5]} vs {list(classes[1])[:5]}); give both the same classes")
    if n_classes is not None and len(classes[0]) > n_classes:
        raise BadArgumentError(f"{folders[0]} has {len(classes[0])} class folders but the supernet has "
                               f"{n_classes} outputs; use at most {n_classes} classes", "data")
    if len(folders) == 1 and n_val >= counts[0]:
        raise BadArgumentError(f"{folders[0]}: {counts[0]} images cannot spare {n_val} for validation; pass a "
                               f"smaller val_images= (at most {counts[0] - 1}) or add train/ and val/ folders", "val_images")
    return sum(counts)


def load_training_data(source: str, size: int, channels: int = 1, n_val: int = 5000,
                       seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """(train, val) for `source`: 'fashion-mnist' (a seeded split of its training set), or an
    image folder holding `train/` and `val/` class folders, or class folders alone (split here)."""
    folders = training_folders(source)
    if folders is None:
        return split_train_val(load_fashion_mnist("train"), n_val=n_val, seed=seed)
    if len(folders) == 2:
        return load_image_folder(folders[0], size, channels), load_image_folder(folders[1], size, channels)
    data = load_image_folder(folders[0], size, channels)
    if n_val >= len(data):
        raise BadArgumentError(f"{folders[0]}: {len(data)} images cannot spare {n_val} for validation; pass a "
                               f"smaller val_images= (at most {len(data) - 1})", "val_images")
    return split_train_val(data, n_val=n_val, seed=seed)
