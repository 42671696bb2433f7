"""torch.distributed plumbing: gloo on CPU, nccl on GPUs; start from torchrun's environment or
spawn N local processes ourselves.

We all-reduce gradients by hand instead of wrapping the model in DistributedDataParallel. A
step runs several subnets (and micro-batches), each a separate backward that leaves a different
set of parameters unused; the parameters the *step* used are the union, known only after its
last backward. DDP reduces per backward: it would need `no_sync()` on all but the last one and
`find_unused_parameters=True` (a graph walk per backward) that judges "unused" from the last
subnet alone. One flat all-reduce after the step's backward passes, with a used-flag per
parameter riding along, is simpler, costs one collective per step and is exact."""
from __future__ import annotations

import os
import socket
from typing import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    """A TCP port on localhost that is free right now (for the rendezvous of spawned workers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend_for(world: int) -> str:
    """nccl when every rank can own a GPU, gloo otherwise (CPU)."""
    return "nccl" if torch.cuda.is_available() and torch.cuda.device_count() >= world else "gloo"


def device_for(local_rank: int = 0) -> torch.device:
    """This process's device: its own GPU under nccl (or a single process with CUDA), else CPU."""
    if torch.cuda.is_available() and (not dist.is_initialized() or dist.get_backend() == "nccl"):
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_from_env() -> tuple[int, int]:
    """(rank, world size); joins the process group when torchrun's variables are set."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend_for(int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def local_rank() -> int:
    """The rank within this host (torchrun's LOCAL_RANK; 0 outside a distributed run)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def _worker(rank: int, world: int, port: int, fn: Callable, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    dist.init_process_group(backend_for(world), rank=rank, world_size=world)
    try:
        fn(rank, world, *args)
    finally:
        dist.destroy_process_group()


def spawn(fn: Callable, nproc: int, *args) -> None:
    """Run fn(rank, world, *args) in `nproc` local processes joined by gloo (nccl on GPUs)."""
    mp.spawn(_worker, args=(nproc, free_port(), fn, args), nprocs=nproc, join=True)


def all_reduce_grads(params: list[torch.nn.Parameter], world: int) -> None:
    """Average gradients over ranks in one flat all-reduce.

    A parameter no rank used this step keeps `grad=None`, as in a single process, so SGD skips
    it (a zero gradient would still move it through momentum and weight decay); one used on some
    ranks only counts as zero on the others."""
    if world == 1:
        return
    used = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=params[0].device)
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads] + [used])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p, g, u in zip(params, grads, flat[-len(params):].tolist()):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone() if u > 0 else None
        offset += n


def all_reduce_mean(tensors: list[torch.Tensor], world: int) -> None:
    """Replace each tensor by its mean over ranks, in place, in one flat all-reduce."""
    if world == 1 or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for t in tensors:
        t.copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()


def average_buffers(model: torch.nn.Module, world: int) -> None:
    """Average the floating-point buffers (BN running statistics) over ranks."""
    all_reduce_mean([b for b in model.buffers() if b.dtype.is_floating_point], world)
