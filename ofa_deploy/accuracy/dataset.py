"""The (arch, top-1) pairs an accuracy predictor learns from, and the resumable builder that
measures them: sample subnets, evaluate each (BN recalibrated) on a validation split, save after
every one (atomically), and pick up where a killed run stopped.

On N processes (torchrun, gloo or nccl) rank k evaluates every N-th planned arch into its own
journal `<name>.shard<k>of<N>.json`, with the same resume rules; once every rank is done, the
journals merge into the dataset file in plan order — the file one process would have written —
and are removed. Archs in the dataset file or in any shard journal (of any world size) count as
done, so a run may resume on a different number of processes."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..arch import ArchBatch, ArchConfig, SearchSpace
from ..fileio import atomic_write_json
from ..errors import FileFormatError

FORMAT = "ofa_deploy.accuracy_dataset/1"


@dataclass
class AccuracyDataset:
    """Evaluated subnets of one supernet: each record {'arch': {...}, 'top1': fraction, 'seconds'}."""

    supernet: str
    meta: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def archs(self) -> list[ArchConfig]:
        return [ArchConfig.from_dict(r["arch"]) for r in self.records]

    def batch(self, space: SearchSpace) -> ArchBatch:
        return ArchBatch.from_archs(space, self.archs)

    @property
    def top1(self) -> np.ndarray:
        return np.array([r["top1"] for r in self.records], dtype=np.float64)

    def keys(self) -> set[str]:
        return {json.dumps(r["arch"], sort_keys=True) for r in self.records}

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, {"format": FORMAT, "supernet": self.supernet, "meta": self.meta,
                                        "records": self.records}, indent=None)

    @classmethod
    def load(cls, path: str | Path) -> "AccuracyDataset":
        obj = json.loads(Path(path).read_text())
        if obj.get("format") != FORMAT:
            raise FileFormatError(f"{path} is not an accuracy dataset (format {obj.get('format')!r}, expected {FORMAT!r})")
        return cls(obj["supernet"], obj.get("meta", {}), obj.get("records", []))


def planned_archs(space: SearchSpace, n: int, seed: int, resolutions: Sequence[int] | None = None) -> list[ArchConfig]:
    """The smallest and largest arch at each resolution, then seeded random archs, deduplicated
    (archs that differ only in skipped blocks build the same net), n in all."""
    res = list(resolutions or space.resolutions)
    fixed = [a for r in res for a in (space.smallest(r), space.largest(r))]
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    pool = iter(fixed)
    while len(out) < n:
        arch = next(pool, None)
        if arch is None:
            pool = iter(ArchBatch.sample(space, max(64, n), rng, res).to_archs())
            continue
        key = json.dumps(arch.canonical(space).to_dict(), sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(arch.canonical(space))
    return out


def _key(arch: dict) -> str:
    return json.dumps(arch, sort_keys=True)


def _open(path: Path, supernet: str, meta: dict[str, Any]) -> AccuracyDataset:
    """The dataset or journal at `path` (new if absent), checked to match `supernet` and `meta`."""
    ds = AccuracyDataset.load(path) if path.exists() else AccuracyDataset(supernet, meta)
    if ds.supernet != supernet or any(ds.meta.get(k) != v for k, v in meta.items()):
        raise FileFormatError(f"{path} was built for {ds.supernet} with {ds.meta}, not {supernet} with {meta}; "
                         f"use another --out file or delete this one")
    return ds


def shard_paths(path: str | Path) -> list[Path]:
    """The shard journals beside the dataset file `path`, of any world size."""
    path = Path(path)
    return sorted(path.parent.glob(f"{path.stem}.shard*of*{path.suffix}"))


def build_dataset(path: str | Path, supernet: str, space: SearchSpace, evaluate: Callable[[ArchConfig], float],
                  n: int, seed: int = 0, resolutions: Sequence[int] | None = None,
                  meta: dict[str, Any] | None = None, progress: bool = True,
                  rank: int = 0, world: int = 1) -> AccuracyDataset:
    """Evaluate the first n planned archs, saving after each; a rerun skips those already done.

    `meta` (e.g. weights checksum, data split) must match the file's on resume, so a cache made
    with other weights or data is never mixed in. With `world` > 1 (inside a joined process
    group) this rank evaluates its share into a journal and every rank returns the merged set."""
    from tqdm.auto import tqdm

    path = Path(path)
    meta = {"seed": seed, "resolutions": list(resolutions or space.resolutions), **(meta or {})}
    plan = planned_archs(space, n, seed, resolutions)
    ds = _open(path, supernet, meta)
    target = path if world == 1 else path.with_name(f"{path.stem}.shard{rank}of{world}{path.suffix}")
    journal = ds if world == 1 else _open(target, supernet, meta)
    done = ds.keys().union(*(_open(p, supernet, meta).keys() for p in shard_paths(path)))
    todo = [a for i, a in enumerate(plan) if i % world == rank and _key(a.to_dict()) not in done]
    for arch in tqdm(todo, desc=f"evaluate subnets ({len(done)} cached)", disable=not progress or rank != 0):
        t0 = time.perf_counter()
        top1 = float(evaluate(arch))
        journal.records.append({"arch": arch.to_dict(), "top1": top1, "seconds": round(time.perf_counter() - t0, 3)})
        journal.save(target)
    if world == 1:   # taking in what an interrupted multi-process run left in its journals
        return merge_shards(path, supernet, meta, plan) if shard_paths(path) else ds
    import torch.distributed as dist

    dist.barrier()                      # every journal is complete
    if rank == 0:
        merge_shards(path, supernet, meta, plan)
    dist.barrier()                      # rank 0 has written the file and removed the journals
    return AccuracyDataset.load(path)


def merge_shards(path: str | Path, supernet: str, meta: dict[str, Any], plan: Sequence[ArchConfig],
                 write: bool = True) -> AccuracyDataset:
    """The dataset file's records and the shard journals', in plan order (one process's order;
    records of no longer planned archs last); with `write`, saved to `path`, journals removed."""
    path = Path(path)
    ds = _open(path, supernet, meta)
    shards = shard_paths(path)
    new = {_key(r["arch"]): r for p in shards for r in _open(p, supernet, meta).records}
    have = ds.keys()
    order = {_key(a.to_dict()): i for i, a in enumerate(plan)}
    ds.records = sorted(ds.records + [r for k, r in new.items() if k not in have],
                        key=lambda r: order.get(_key(r["arch"]), len(order)))
    if write:
        ds.save(path)
        for p in shards:
            p.unlink()
    return ds


def fashion_mnist_evaluator(supernet_module, mean: Sequence[float], std: Sequence[float], calib_images: int = 2000,
                            val_images: int | None = None, n_val: int = 5000, split_seed: int = 0,
                            device: str = "cpu") -> Callable[[ArchConfig], float]:
    """evaluate(arch) → top-1 on the Fashion-MNIST validation split the supernet was not trained on
    (the last n_val of a seeded split of the training set), BN recalibrated on training images."""
    from ..training import evaluate_arch, load_fashion_mnist, split_train_val

    train, val = split_train_val(load_fashion_mnist("train"), n_val=n_val, seed=split_seed)
    supernet_module.to(device)
    return lambda arch: evaluate_arch(supernet_module, arch, train, val, mean, std, calib_images, val_images, device)
