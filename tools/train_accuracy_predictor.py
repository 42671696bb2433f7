"""Train an accuracy predictor for a supernet: evaluate sampled subnets (BN recalibrated) on a
held-out validation split, cache the (arch, top-1) pairs resumably, fit the official-layout MLP,
report held-out RMSE and Spearman.

    python tools/train_accuracy_predictor.py                     # the embedded tiny supernet
    python tools/train_accuracy_predictor.py --n 400 --out runs/acc_tiny

    torchrun --standalone --nproc_per_node=4 tools/train_accuracy_predictor.py --n 4000 --threads 1
                                                                 # subnets sharded over 4 workers

Kill it any time: rerunning the same command (on any number of workers) resumes the dataset where
it stopped; each worker journals its share, rank 0 merges them and fits the predictor. For the
embedded supernet the result is copied to ofa_deploy/data/acc_predictor_ofa_tiny.pth (--ship).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ofa_deploy.accuracy import FitConfig, build_dataset, fashion_mnist_evaluator, train_predictor
from ofa_deploy.fileio import atomic_write_json, sha256_file
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.supernets import get_supernet
from ofa_deploy.training.ddp import init_from_env

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--supernet", default="ofa_tiny_d123_e346_k357")
    p.add_argument("--weights", help="supernet checkpoint (default: the registered weights)")
    p.add_argument("--n", type=int, default=400, help="subnets to evaluate")
    p.add_argument("--val-images", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=300, help="MLP training epochs")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "acc_tiny")
    p.add_argument("--ship", action="store_true", help="copy the predictor into ofa_deploy/data/")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="where subnets are evaluated: cpu or cuda")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rank, world = init_from_env()        # (0, 1) outside torchrun
    device = f"cuda:{rank % torch.cuda.device_count()}" if args.device == "cuda" and world > 1 else args.device
    rec = get_supernet_record(args.supernet)
    net = get_supernet(rec.name, pretrained=args.weights is None, weights=args.weights)
    weights_sha = sha256_file(args.weights) if args.weights else rec.weights.sha256
    t0 = time.time()
    ds = build_dataset(args.out / "dataset.json", rec.name, rec.space,
                       fashion_mnist_evaluator(net, rec.mean, rec.std, val_images=args.val_images, device=device), args.n,
                       meta={"weights_sha256": weights_sha, "val_images": args.val_images}, rank=rank, world=world)
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    if rank:
        return
    print(f"dataset: {len(ds)} subnets in {(time.time() - t0) / 60:.1f} min "
          f"(top-1 {100 * ds.top1.min():.2f}..{100 * ds.top1.max():.2f} %)")
    pred, report = train_predictor(ds.batch(rec.space), ds.top1, FitConfig(epochs=args.epochs), supernet=rec.name,
                                   provenance={"dataset": str(args.out / "dataset.json"), "subnets": len(ds),
                                               "weights_sha256": weights_sha,
                                               "command": "python tools/train_accuracy_predictor.py --ship"})
    pred.save(args.out / "predictor.pth")
    atomic_write_json(args.out / "report.json", report)
    print(json.dumps({k: report[k] for k in ("train", "held_out") if k in report}, indent=2))
    if args.ship:
        target = REPO / "ofa_deploy" / "data" / f"{rec.accuracy_predictor.package_file}"
        pred.save(target)
        print(f"shipped {target} sha256 {sha256_file(target)}")


if __name__ == "__main__":
    main()
