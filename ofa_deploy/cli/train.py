"""`ofa-deploy train`: progressive shrinking (or one arch from scratch) on Fashion-MNIST or an
image folder, on 1..N processes; run it again in the same --out folder to resume after a kill.

    ofa-deploy train --supernet tiny --out runs/ps                      # the full PS schedule
    ofa-deploy train --out runs/ps --nproc 2                            # 2 local processes (gloo)
    torchrun --nproc_per_node=2 -m ofa_deploy.cli train --out runs/ps   # the same, under torchrun
    ofa-deploy train --arch '{"ks": [...], "e": [...], "d": [...]}' --out runs/scratch
    ofa-deploy train --recipe improved --out runs/ps-improved           # sandwich + in-place distillation
    ofa-deploy train --out runs/ps --sandwich --subnets-per-step 3      # one recipe option changed"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .common import add_json_flag, number_list, print_json, print_table
from ..errors import BadArgumentError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the `train` verb."""
    p = sub.add_parser("train", help="train a supernet with progressive shrinking (resumable, DDP)",
                       description=__doc__.splitlines()[0])
    p.add_argument("--supernet", default="tiny", help="registry name (default: the embedded tiny space)")
    p.add_argument("--data", default="fashion-mnist",
                   help="'fashion-mnist' or a folder of class sub-folders (optionally train/ and val/)")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint.pt, history.json, final.pth")
    p.add_argument("--epochs", nargs="+", help="epochs per PS phase (6 numbers) or for --arch (1); spaces or commas")
    p.add_argument("--lr", nargs="+", help="peak learning rate per phase (6 numbers, or 1 for --arch); spaces or commas")
    p.add_argument("--arch", help="train this one arch from scratch instead (JSON {ks, e, d})")
    p.add_argument("--batch", type=int, default=256, help="global batch, split over processes")
    p.add_argument("--micro-batches", type=int, default=1, help="split each process's batch (gradient accumulation)")
    p.add_argument("--kd-ratio", type=float, default=1.0)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--resolutions", nargs="+", help="train resolutions sampled per batch, spaces or commas "
                   "(default: the space's)")
    p.add_argument("--max-steps-per-epoch", type=int, help="cap each epoch (smoke runs)")
    p.add_argument("--ckpt-every", type=int, default=50, help="steps between checkpoints (also each epoch)")
    p.add_argument("--val-images", type=int, default=5000)
    p.add_argument("--calib-images", type=int, default=2000, help="images that recalibrate BN before each evaluation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recipe", default="official", choices=("official", "improved", "bignas", "bignas-mean"),
                   help="training recipe: the official PS (default), sandwich + in-place distillation, or "
                        "BigNAS's single stage (summed / averaged subnet losses)")
    onoff = argparse.BooleanOptionalAction
    p.add_argument("--sandwich", action=onoff, help="largest + smallest subnet in every step (recipe option)")
    p.add_argument("--keep-largest", action=onoff, help="the largest subnet in every step (recipe option)")
    p.add_argument("--inplace-distill", action=onoff, help="the live largest subnet teaches the others (recipe option)")
    p.add_argument("--subnets-per-step", type=int, help="random subnets per step (default: the phase's 1 or 2)")
    p.add_argument("--restart-warmup-epochs", type=float, help="linear LR warm-up at the start of each later phase")
    p.add_argument("--decay-bn-bias", action=onoff, help="weight decay on BN and biases too (official: no)")
    p.add_argument("--bn-momentum", type=float, help="BN running-statistics momentum in training (default 0.1)")
    p.add_argument("--phase-eval", type=int, default=4, metavar="N",
                   help="after each phase, evaluate smallest, largest and N random subnets into phase_eval.md "
                        "(-1: off)")
    p.add_argument("--nproc", type=int, default=1, help="local processes (ignored under torchrun)")
    p.add_argument("--threads", type=int, default=0, help="torch threads per process (default: cores / nproc)")
    p.add_argument("--torch-device", "--device", dest="device", default="auto",
                   help="where to train: auto (a GPU per rank when present), cpu or cuda (--device: old spelling)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_flag(p)
    p.set_defaults(func=_train)


def schedule_from_args(args, space):
    """The Schedule the arguments describe (PS by default, one arch from scratch with --arch)."""
    from ..arch import ArchConfig
    from ..training import progressive_shrinking, scratch

    if args.arch:
        arch = ArchConfig.coerce(args.arch, space, r=space.resolutions[-1])   # JSON or the printed form
        epochs = args.epochs[0] if args.epochs else progressive_shrinking().total_epochs
        return scratch(arch, epochs, *(args.lr[:1] if args.lr else ()))
    kw = {}
    for name in ("epochs", "lr"):
        val = getattr(args, name)
        if val is not None:
            if len(val) != 6:
                raise BadArgumentError(f"--{name} takes one value per PS phase (full, kernel, depth-1, depth-2, "
                                 f"expand-1, expand-2), 6 in all; got {len(val)}")
            kw[name] = tuple(val)
    return progressive_shrinking(ks=space.ks_choices, e=space.e_choices, d=space.d_choices, **kw)


def recipe_from_args(args):
    """The --recipe with the individual recipe flags applied."""
    from ..training.recipe import get_recipe

    flags = {"sandwich": args.sandwich, "keep_largest": args.keep_largest, "inplace_distill": args.inplace_distill,
             "subnets_per_step": args.subnets_per_step, "restart_warmup_epochs": args.restart_warmup_epochs,
             "bn_momentum": args.bn_momentum,
             "no_decay_bn_bias": None if args.decay_bn_bias is None else not args.decay_bn_bias}
    try:
        return get_recipe(args.recipe, **{k: v for k, v in flags.items() if v is not None})
    except ValueError as exc:   # the recipe's own message, in the CLI's spelling
        raise BadArgumentError(str(exc).replace("subnets_per_step", "--subnets-per-step")
                         .replace("restart_warmup_epochs", "--restart-warmup-epochs")
                         .replace("bn_momentum", "--bn-momentum")) from None


def _config(args, record):
    from ..training import TrainConfig

    return TrainConfig(supernet=record.name, global_batch=args.batch, micro_batches=args.micro_batches,
                       recipe=recipe_from_args(args),
                       kd_ratio=args.kd_ratio, label_smoothing=args.label_smoothing, seed=args.seed,
                       max_steps_per_epoch=args.max_steps_per_epoch, ckpt_every=args.ckpt_every,
                       eval_images=args.val_images, calib_images=args.calib_images,
                       device=args.device, resolutions=tuple(args.resolutions) if args.resolutions else None)


def run_rank(rank: int, world: int, args: argparse.Namespace) -> None:
    """One process of a run: load the data, build the trainer, train (resuming if possible)."""
    import torch

    from ..registry import get_supernet_record
    from ..training import Trainer
    from ..training.data import load_training_data

    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // world))
    rec = get_supernet_record(args.supernet)
    train, val = load_training_data(args.data, max(rec.space.resolutions), getattr(rec.spec, "in_channels", 3),
                                    n_val=args.val_images, seed=args.seed)
    from ..training.phase_eval import PhaseEvaluator

    callbacks = [PhaseEvaluator(n_random=args.phase_eval)] if args.phase_eval >= 0 and not args.arch else []
    Trainer(_config(args, rec), schedule_from_args(args, rec.space), args.out, train, val,
            rank=rank, world=world, progress=not args.quiet, callbacks=callbacks).run()


def _parse_lists(args) -> None:
    """--epochs / --lr / --resolutions as numbers (spaces or commas), in place."""
    for name, cast in (("epochs", int), ("lr", float), ("resolutions", int)):
        setattr(args, name, number_list(getattr(args, name), cast, f"--{name}"))


def _train(args) -> int:
    from ..registry import get_supernet_record
    from ..training.checks import NUMBERS, check_train_request
    from ..training.ddp import init_from_env, spawn

    _parse_lists(args)
    rec = get_supernet_record(args.supernet)
    try:   # fail on bad arguments before any process starts
        check_train_request(rec, args.data, args.val_images, args.device, args.resolutions, args.out,
                            **{k: getattr(args, k) for k in NUMBERS})   # numbers, run folder, device, data
        schedule_from_args(args, rec.space)
        recipe_from_args(args)
    except BadArgumentError:
        raise
    except ValueError as exc:   # e.g. an arch that does not fit the space: exit 2 via the CLI's error path
        raise BadArgumentError(str(exc)) from None
    if "WORLD_SIZE" in os.environ:        # under torchrun: this process is one rank
        rank, world = init_from_env()
        run_rank(rank, world, args)
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
        if rank:
            return 0
    elif args.nproc > 1:
        spawn(run_rank, args.nproc, args)
    else:
        run_rank(0, 1, args)
    _summary(args.out, args.json)
    return 0


def _summary(out: Path, as_json: bool = False) -> None:
    hist_path = out / "history.json"
    history = json.loads(hist_path.read_text()) if hist_path.exists() else []
    if as_json:
        final = out / "final.pth"
        print_json({"status": "ok" if final.exists() else "failed", "out": str(out),
                    "weights": str(final) if final.exists() else None, "history": history,
                    "phase_eval": str(out / "phase_eval.md") if (out / "phase_eval.md").exists() else None})
        return
    if not history:
        return
    keys = [k for k in ("top1_max", "top1_min", "top1_arch") if any(k in h for h in history)]
    rows = [[h["phase"], h["epoch"], f"{h['seconds']:.0f}", f"{h['loss']:.3f}" if h.get("loss") is not None else "–"]
            + [f"{100 * h[k]:.2f}" if k in h else "–" for k in keys] for h in history]
    print_table(f"{out}: per-epoch validation top-1 (%)", ["phase", "epoch", "s", "loss"] + keys, rows)
    if (out / "phase_eval.md").exists():
        print(f"after each phase, fixed subnets (validation top-1 %, {out / 'phase_eval.md'}):")
        print((out / "phase_eval.md").read_text(), end="")
    print(f"weights: {out / 'final.pth'}")
