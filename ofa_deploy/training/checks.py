"""A training request checked before any work starts (before processes spawn, data loads or a
model is built): the device, the resolutions and the data, each refused with a typed error that
names the argument and the fix."""
from __future__ import annotations

import re
from typing import Any, Sequence

from ..errors import BadArgumentError, check_number
from ..fileio import check_dir_path
from .data import check_training_data

_DEVICE = re.compile(r"(auto|cpu|cuda)(:\d+)?")
# numeric training settings: keyword → check_number rules (lists are checked item by item)
NUMBERS = {"batch": dict(minimum=1, integer=True), "micro_batches": dict(minimum=1, integer=True),
           "nproc": dict(minimum=1, integer=True), "epochs": dict(minimum=0, integer=True),
           "lr": dict(minimum=0, exclusive=True), "kd_ratio": dict(minimum=0), "label_smoothing": dict(minimum=0),
           "calib_images": dict(minimum=1, integer=True), "ckpt_every": dict(minimum=1, integer=True),
           "max_steps_per_epoch": dict(minimum=1, integer=True), "threads": dict(minimum=0, integer=True),
           "subnets_per_step": dict(minimum=0, integer=True), "restart_warmup_epochs": dict(minimum=0),
           "bn_momentum": dict(minimum=0)}


def check_device(device: str) -> str:
    """`device` ('auto', 'cpu', 'cuda' or 'cuda:N') if this host can use it, else BadArgumentError."""
    m = _DEVICE.fullmatch(str(device))
    if m is None or (m.group(2) and m.group(1) != "cuda"):
        raise BadArgumentError(f"device={device!r} is not a training device; use auto (a GPU when present), "
                               "cpu, cuda or cuda:N", "device")
    if m.group(1) == "cuda":
        import torch

        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(m.group(2)[1:]) if m.group(2) else 0
        if index >= n:
            have = f"{n} CUDA GPU(s) (cuda:0..cuda:{n - 1})" if n else "no CUDA GPU visible to torch"
            raise BadArgumentError(f"device={device} cannot be used: this host has {have}; use device=cpu "
                                   "or device=auto (a GPU when present, else the CPU)", "device")
    return str(device)


def check_numbers(**values: Any) -> None:
    """Each named training setting (see NUMBERS; None = not given) is a finite number in its range."""
    for name, value in values.items():
        if value is None:
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            check_number(name, v, **NUMBERS[name])
    label_smoothing = values.get("label_smoothing")
    if label_smoothing is not None and label_smoothing >= 1:
        raise BadArgumentError(f"label_smoothing={label_smoothing} must be below 1 (0.1 is usual)", "label_smoothing")
    batch, split = values.get("batch"), (values.get("nproc") or 1) * (values.get("micro_batches") or 1)
    if batch is not None and batch % split:
        raise BadArgumentError(f"batch={batch} must split evenly over nproc= × micro_batches= ({split}); pick a "
                               f"multiple of {split}", "batch")


def check_train_request(record, data: str, val_images: int, device: str = "auto",
                        resolutions: Sequence[int] | None = None, out=None, **numbers: Any) -> dict[str, Any]:
    """Check a training run of supernet `record` on `data` before any work starts (numbers: the
    settings NUMBERS lists; out: the run folder, which must be creatable); returns what was found
    ({'images': n, 'resolutions': (...)})."""
    check_numbers(**numbers)
    if out is not None:
        check_dir_path(out, "run folder", "out")
    check_device(device)
    res = record.space.check_resolutions(resolutions) if resolutions is not None else record.space.resolutions
    spec = record.spec
    images = check_training_data(data, val_images, getattr(spec, "n_classes", None))
    return {"images": images, "resolutions": tuple(res)}
