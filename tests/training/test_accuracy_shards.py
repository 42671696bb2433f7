"""The accuracy-predictor dataset sharded over 2 real processes (torch.distributed, gloo over
localhost): the merged file equals what one process writes, record for record and in order, also
when the 2-process run resumes from a smaller 1-process dataset and when it is run again."""
from __future__ import annotations

from pathlib import Path

import torch

from ofa_deploy.accuracy import AccuracyDataset, build_dataset, fashion_mnist_evaluator
from ofa_deploy.accuracy.dataset import shard_paths
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.supernets import get_supernet
from ofa_deploy.training.ddp import spawn

SUPERNET = "ofa_tiny_d123_e346_k357"
META = {"val_images": 200, "weights": "shipped"}


def _build(path: Path, n: int, rank: int = 0, world: int = 1) -> AccuracyDataset:
    torch.set_num_threads(1)
    rec = get_supernet_record(SUPERNET)
    net = get_supernet(SUPERNET, pretrained=True)
    evaluate = fashion_mnist_evaluator(net, rec.mean, rec.std, calib_images=64, val_images=200)
    return build_dataset(path, SUPERNET, rec.space, evaluate, n, seed=3, meta=META, progress=False,
                         rank=rank, world=world)


def _rank(rank: int, world: int, path: str, n: int) -> None:
    ds = _build(Path(path), n, rank, world)
    assert len(ds) == n   # every rank returns the merged dataset


def _pairs(ds: AccuracyDataset) -> list:
    return [(r["arch"], r["top1"]) for r in ds.records]


def test_two_process_dataset_equals_one_process(tmp_path):
    one = _pairs(_build(tmp_path / "one.json", 6))
    assert len(one) == 6 and len({round(t, 4) for _, t in one}) > 1, "subnets of a trained supernet differ"

    spawn(_rank, 2, str(tmp_path / "two.json"), 6)
    two = AccuracyDataset.load(tmp_path / "two.json")
    assert _pairs(two) == one
    assert not shard_paths(tmp_path / "two.json"), "the shard journals were not removed after the merge"

    # resume: a 1-process dataset of 3 grown to 6 on 2 processes evaluates only the other 3
    _build(tmp_path / "grown.json", 3)
    first = AccuracyDataset.load(tmp_path / "grown.json").records
    spawn(_rank, 2, str(tmp_path / "grown.json"), 6)
    grown = AccuracyDataset.load(tmp_path / "grown.json")
    assert _pairs(grown) == one and grown.records[:3] == first


def test_shard_journals_left_by_a_killed_run_are_taken_in(tmp_path):
    """A shard journal (as a killed 2-process run leaves it) counts as done and merges on resume,
    here on one process."""
    one = _build(tmp_path / "one.json", 4)
    journal = AccuracyDataset(one.supernet, one.meta, one.records[1:2])
    journal.save(tmp_path / "ds.shard1of2.json")
    resumed = _build(tmp_path / "ds.json", 4)
    assert _pairs(resumed) == _pairs(one)
    assert resumed.records[1] == one.records[1]            # taken from the journal, not re-evaluated
    assert not shard_paths(tmp_path / "ds.json")
