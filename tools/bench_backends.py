"""What extraction and export buy, measured side by side in one run (medians of --repeats).

    python tools/bench_backends.py [--repeats 5] [--runs 100] [--threads 1]

For two subnets (the published Pixel1@40ms arch of the w1.0 space at 172 px, and the largest
subnet of the embedded tiny space at 28 px; random weights, latency does not depend on them):
  * PyTorch eager, the supernet running the subnet through its elastic layers,
  * PyTorch eager, the static subnet get_active_subnet() returns,
  * PyTorch eager, the same net built by hand from its net.config (the reference a user would write),
  * every installed backend that measures here (fp32), exported through ofa_deploy.export.
Prints one table per subnet with the median latency and the ratio to the hand-built net: the
static subnet should sit at 1.0x, the supernet above it, and the runtimes below it.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch

from ofa_deploy.backends import get_backend, list_backends
from ofa_deploy.backends.base import MeasureSettings
from ofa_deploy.backends.export import export
from ofa_deploy.backends.timing import time_callable
from ofa_deploy.cli.common import print_table
from ofa_deploy.registry import SPECIALIZED, get_supernet_record
from ofa_deploy.supernets import build_static
from ofa_deploy.supernets.mbv3 import arch_from_net_config
from ofa_deploy.zoo import attach


def subnets():
    """(title, supernet module with the arch set, static subnet, arch) for each benchmarked net."""
    pub = SPECIALIZED.get("pixel1_lat@40ms_top1@74.9_finetune@25")
    w10 = get_supernet_record("ofa_mbv3_w1.0")
    tiny = get_supernet_record("tiny")
    for title, rec, arch in (
            ("w1.0, Pixel1@40ms arch, 172 px", w10, arch_from_net_config(pub.net_config, pub.image_size, w10.spec)),
            ("tiny, largest subnet, 28 px", tiny, tiny.space.largest(28))):
        torch.manual_seed(0)
        net = rec.build().eval()
        net.set_arch(arch)
        static = net.get_active_subnet().eval()
        yield title, net, static, arch, rec


def torch_stats(model, shape, settings):
    x = torch.randn(shape)
    with torch.no_grad():
        return time_callable(lambda: model(x), settings, "torch", torch.__version__)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    settings = MeasureSettings(threads=args.threads, warmup=10, runs=args.runs)
    backends = [b.name for b in list_backends() if b.available and getattr(get_backend(b.name, check=False),
                                                                          "default_benchmark", True)]
    work = Path(tempfile.mkdtemp(prefix="bench_backends_"))
    for title, supernet, static, arch, rec in subnets():
        shape = (1, rec.spec.in_channels, arch.r, arch.r)
        by_hand = build_static(static.config).eval()
        by_hand.load_state_dict(static.state_dict())
        runners = {"PyTorch eager: supernet (elastic layers)": lambda: torch_stats(supernet, shape, settings),
                   "PyTorch eager: extracted static subnet": lambda: torch_stats(static, shape, settings),
                   "PyTorch eager: built by hand from net.config": lambda: torch_stats(by_hand, shape, settings)}
        model = attach(static, {"name": rec.name.split("_")[1] + f"_r{arch.r}", "in_channels": shape[1]}, arch, shape)
        for name in backends:
            try:
                art = export(model, name, work / name, validate=False)
                runners[f"{name} fp32"] = (lambda a=art, b=get_backend(name): b.measure(a, settings))
            except Exception as exc:  # a table row says why, the bench goes on
                runners[f"{name} fp32 (export failed: {type(exc).__name__})"] = None
        medians = {k: [] for k in runners}
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits every row alike
            for k, fn in runners.items():
                if fn is not None:
                    try:
                        medians[k].append(fn().median)
                    except Exception as exc:
                        runners[k] = None
                        medians[k] = [f"❌ {type(exc).__name__}"]
        ref = statistics.median(medians["PyTorch eager: built by hand from net.config"])
        rows = []
        for k, vals in medians.items():
            if vals and isinstance(vals[0], float):
                m = statistics.median(vals)
                rows.append([k, f"{m:.3f}", f"{m / ref:.2f}x", len(vals)])
            else:
                rows.append([k, vals[0] if vals else "not run", "", 0])
        print_table(f"{title}: median latency (ms), {args.threads} thread(s), medians of {args.repeats} repeats "
                    f"of {args.runs} runs", ["runner", "median ms", "vs hand-built", "repeats"], rows)


if __name__ == "__main__":
    main()
