"""torch.distributed plumbing: gloo on CPU, nccl on GPUs; start from torchrun's environment or
spawn N local processes ourselves.

We all-reduce gradients by hand instead of wrapping the model in DistributedDataParallel: every
step runs several different subnets of one supernet, each leaving other parameters unused, and
DDP's bucketed hooks assume one forward/backward per step (find_unused_parameters would still
fire once per backward). One flat all-reduce after the step's backward passes is simpler and
exact."""
from __future__ import annotations

import os
import socket
from typing import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_from_env() -> tuple[int, int]:
    """(rank, world size); joins the process group when torchrun's variables are set."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def _worker(rank: int, world: int, port: int, fn: Callable, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        fn(rank, world, *args)
    finally:
        dist.destroy_process_group()


def spawn(fn: Callable, nproc: int, *args) -> None:
    """Run fn(rank, world, *args) in `nproc` local processes joined by gloo."""
    mp.spawn(_worker, args=(nproc, free_port(), fn, args), nprocs=nproc, join=True)


def all_reduce_grads(params: list[torch.nn.Parameter], world: int) -> None:
    """Average gradients over ranks in one flat all-reduce (missing grads count as zero)."""
    if world == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def average_buffers(model: torch.nn.Module, world: int) -> None:
    """Average BN running statistics over ranks (each rank saw different images)."""
    if world == 1:
        return
    for name, buf in model.named_buffers():
        if buf.dtype.is_floating_point:
            dist.all_reduce(buf)
            buf /= world
