"""Fit the accuracy-predictor MLP on (arch, top-1) pairs and report held-out RMSE and Spearman."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..arch import ArchBatch
from .encoder import ArchEncoder
from .predictor import AccuracyPredictor, build_mlp
from ..errors import BadArgumentError


@dataclass(frozen=True)
class FitConfig:
    """MLP training settings (Adam on MSE; the held-out split is never trained on)."""

    hidden: int = 400
    n_hidden: int = 3
    epochs: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    seed: int = 0


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    return sums[inv] / counts[inv]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks)."""
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denom) if denom else 0.0


def regression_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """RMSE and MAE in top-1 points (percent) and Spearman rank correlation."""
    err = (np.asarray(pred) - np.asarray(target)) * 100
    return {"rmse_pct": float(np.sqrt((err ** 2).mean())), "mae_pct": float(np.abs(err).mean()),
            "spearman": spearman(pred, target), "n": int(len(target))}


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded (train, held-out) split of range(n); the held-out part is at least one sample."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * val_fraction))) if val_fraction > 0 else 0
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def train_predictor(archs: ArchBatch, top1: np.ndarray, config: FitConfig = FitConfig(),
                    encoder: ArchEncoder | None = None, supernet: str | None = None, progress: bool = True,
                    provenance: dict[str, Any] | None = None) -> tuple[AccuracyPredictor, dict[str, Any]]:
    """Train the MLP on a seeded split of (archs, top1); return it and its held-out report."""
    if len(archs) != len(top1) or len(archs) < 5:
        raise BadArgumentError(f"need at least 5 (arch, top-1) pairs of equal count to train a predictor; "
                         f"got {len(archs)} archs and {len(top1)} accuracies — evaluate more subnets first")
    encoder = encoder or ArchEncoder.for_space(archs.space)
    x = torch.from_numpy(encoder.encode_batch(archs))
    y = torch.as_tensor(np.asarray(top1, dtype=np.float32))
    tr, va = split_indices(len(y), config.val_fraction, config.seed)
    torch.manual_seed(config.seed)
    model = build_mlp(encoder.n_features, config.hidden, config.n_hidden)
    with torch.no_grad():  # start at the mean so early epochs fit the shape, not the offset
        model[-1].bias.fill_(float(y[tr].mean()))
    t0 = time.perf_counter()
    _fit(model, x[tr], y[tr], config, progress)
    pred = AccuracyPredictor(model, encoder, archs.space, supernet, "trained", provenance)
    report: dict[str, Any] = {"config": asdict(config), "seconds": round(time.perf_counter() - t0, 2),
                              "train": regression_metrics(pred.forward_features(x[tr].numpy()), y[tr].numpy())}
    if len(va):
        report["held_out"] = regression_metrics(pred.forward_features(x[va].numpy()), y[va].numpy())
    pred.provenance.update({"fit": {k: report[k] for k in ("train", "held_out") if k in report}})
    return pred, report


def _fit(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, config: FitConfig, progress: bool) -> None:
    from tqdm.auto import tqdm

    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    g = torch.Generator().manual_seed(config.seed)
    model.train()
    bar = tqdm(range(config.epochs), desc="fit accuracy predictor", disable=not progress, leave=False)
    for _ in bar:
        order = torch.randperm(len(y), generator=g)
        total = 0.0
        for i in range(0, len(y), config.batch_size):
            idx = order[i:i + config.batch_size]
            loss = nn.functional.mse_loss(model(x[idx]).squeeze(1), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        bar.set_postfix(rmse_pct=f"{100 * (total / len(y)) ** 0.5:.2f}")
    model.eval()
