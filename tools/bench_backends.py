"""What extraction and export cost or buy, measured side by side in one run (medians of --repeats).

    python tools/bench_backends.py [--repeats 5] [--runs 100] [--threads 1]

For the largest and the smallest OFA-MobileNetV3 w1.0 subnets at 224 px (random weights with
non-trivial BN statistics; latency does not depend on the values) it times, interleaved:
  * PyTorch eager: the supernet running the subnet through its elastic layers,
  * PyTorch eager: the static subnet get_active_subnet() returns,
  * PyTorch eager: the same net written by hand in plain torch.nn (tools/handwritten_mbv3.py),
  * ONNX Runtime on the hand-written net's export, and
  * every installed backend that measures here (fp32) on the extracted subnet, through ofa_deploy.export.
One table per subnet: median ms, ratio to the hand-written PyTorch net, and the key ratio
ORT(extracted) / ORT(hand-written), goal ≤ 1.02.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from ofa_deploy.deploy import get_backend, list_backends
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.deploy.export import export
from ofa_deploy.deploy.timing import time_callable
from ofa_deploy.cli.common import print_table
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.zoo import attach

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handwritten_mbv3 import handwritten_copy  # noqa: E402

HAND = "PyTorch eager: written by hand in torch.nn"


def subnets():
    """(title, supernet module with the arch set, static subnet, arch, record) per benchmarked net."""
    w10 = get_supernet_record("ofa_mbv3_w1.0")
    torch.manual_seed(0)
    net = w10.build().eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    for title, arch in (("w1.0 largest subnet, 224 px", w10.space.largest(224)),
                        ("w1.0 smallest subnet, 224 px", w10.space.smallest(224))):
        net.set_arch(arch)
        yield title, net, net.get_active_subnet().eval(), arch, w10


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
        by_hand = handwritten_copy(static)
        runners = {"PyTorch eager: supernet (elastic layers)": lambda: torch_stats(supernet, shape, settings),
                   "PyTorch eager: extracted static subnet": lambda: torch_stats(static, shape, settings),
                   HAND: lambda: torch_stats(by_hand, shape, settings)}
        tag = "largest" if "largest" in title else "smallest"
        model = attach(static, {"name": f"extracted_{tag}", "in_channels": shape[1]}, arch, shape)
        hand = attach(by_hand, {"name": f"handwritten_{tag}", "in_channels": shape[1]}, arch, shape)
        art = export(hand, "onnx", work / "hand")  # validated against the hand-written PyTorch net
        runners["onnxruntime fp32, hand-written net"] = lambda a=art: get_backend("onnxruntime").measure(a, settings)
        for name in backends:
            try:
                art = export(model, name, work / name, validate=False)
                runners[f"{name} fp32, extracted subnet"] = (lambda a=art, b=get_backend(name): b.measure(a, settings))
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
        ref = statistics.median(medians[HAND])
        rows = []
        for k, vals in medians.items():
            if vals and isinstance(vals[0], float):
                m = statistics.median(vals)
                rows.append([k, f"{m:.3f}", f"{m / ref:.2f}x", len(vals)])
            else:
                rows.append([k, vals[0] if vals else "not run", "", 0])
        print_table(f"{title}: median latency (ms), {args.threads} thread(s), medians of {args.repeats} repeats "
                    f"of {args.runs} runs", ["runner", "median ms", "vs hand-written PyTorch", "repeats"], rows)
        ort = [medians.get(k) for k in ("onnxruntime fp32, extracted subnet", "onnxruntime fp32, hand-written net")]
        if all(v and isinstance(v[0], float) for v in ort):
            ratio = statistics.median(ort[0]) / statistics.median(ort[1])
            print(f"{title}: ORT extracted / ORT hand-written = {ratio:.3f} (goal ≤ 1.02)")


if __name__ == "__main__":
    main()
