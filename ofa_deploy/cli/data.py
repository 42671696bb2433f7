"""Real images for the CLI's `--calib-data` and `--data` flags: 'fashion-mnist' (the Debian
package's IDX files) or a folder of class sub-folders, preprocessed as the model's card says."""
from __future__ import annotations

from pathlib import Path

from ..errors import BadArgumentError


def image_set(source: str, model, split: str = "test"):
    """The ImageSet `source` names, at the model's resolution and channel count."""
    from ..training.data import FASHION_MNIST_NAMES, load_fashion_mnist, load_image_folder

    if str(source).lower() in FASHION_MNIST_NAMES:
        return load_fashion_mnist(split)
    root = Path(source)
    if not root.is_dir():
        raise BadArgumentError(f"data {source!r} is neither 'fashion-mnist' nor a folder of class sub-folders; "
                               f"pass one of those")
    sub = root / ("val" if split == "test" else "train")
    return load_image_folder(sub if sub.is_dir() else root, model.input_shape[-1], model.input_shape[1])


def _norm(model) -> tuple[tuple[float, ...], tuple[float, ...]]:
    pre = model.card.preprocessing or {}
    n = model.input_shape[1]
    return tuple(pre.get("mean", (0.0,) * n)), tuple(pre.get("std", (1.0,) * n))


def batches(source: str, model, limit: int | None, split: str = "test", batch_size: int = 100):
    """(images, labels) batches from `source`, normalised for `model` (mean/std of its card)."""
    from ..training.data import batches as eval_batches

    mean, std = _norm(model)
    return eval_batches(image_set(source, model, split), batch_size, model.input_shape[-1], seed=1, mean=mean,
                        std=std, limit=limit)


def calibration(source: str | None, model, n: int = 200):
    """Calibration images for int8/fp16 (a list of single-image tensors), or None."""
    if not source:
        return None
    return [x[i:i + 1] for x, _ in batches(source, model, n, split="train") for i in range(len(x))]
