"""What extraction and export cost or buy, measured side by side in one run (medians of --repeats).

    python tools/bench_backends.py [--repeats 5] [--runs 100] [--threads 1] [--nets tiny,w1.0-smallest-160]
                                   [--tune-trials 1024]

For the largest and the smallest OFA-MobileNetV3 w1.0 subnets at 224 px, the smallest at 160 px and
a tiny-space subnet at 28 px (random weights with non-trivial BN statistics; latency does not depend
on the values) it times, interleaved:
  * PyTorch eager: the supernet running the subnet through its elastic layers,
  * PyTorch eager: the static subnet get_active_subnet() returns,
  * PyTorch eager: the same net written by hand in plain torch.nn (tools/handwritten_mbv3.py),
  * ONNX Runtime on the hand-written net's export, and
  * every installed backend that measures here (fp32) on the extracted subnet, through ofa_deploy.export,
  * TVM tuned with MetaSchedule (--tune-trials; 0 leaves the row out): the tuning time is printed; a
    database cached by an earlier run is reused (0 s), so clear the cache to time tuning again.
One table per subnet: median ms with spread (max-min)/median over the repeats, ratio to the
hand-written PyTorch net, the key ratio ORT(extracted) / ORT(hand-written), goal ≤ 1.02, and
tuned TVM / ORT (issue 12 goal ≤ 1.5). The host's load average is printed with every table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.benchmark import default_backends
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.deploy.export import export
from ofa_deploy.deploy.timing import time_callable
from ofa_deploy.cli.common import print_table
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.supernets.mbv3 import TINY
from ofa_deploy.zoo import attach

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handwritten_mbv3 import handwritten_copy  # noqa: E402

HAND = "PyTorch eager: written by hand in torch.nn"
ORT = "onnxruntime fp32, extracted subnet"
NETS = {"w1.0-largest-224": ("ofa_mbv3_w1.0", "w1.0 largest subnet, 224 px", lambda s: s.largest(224)),
        "w1.0-smallest-224": ("ofa_mbv3_w1.0", "w1.0 smallest subnet, 224 px", lambda s: s.smallest(224)),
        "w1.0-smallest-160": ("ofa_mbv3_w1.0", "w1.0 smallest subnet, 160 px", lambda s: s.smallest(160)),
        "tiny": (TINY.name, "tiny subnet (space sample rng=3, as in the backend tests), 28 px",
                 lambda s: s.sample(rng=3, resolutions=(28,)))}


def subnets(names):
    """(title, supernet module with the arch set, static subnet, arch, record) per benchmarked net."""
    for key in names:
        supernet, title, pick = NETS[key]
        rec = get_supernet_record(supernet)
        torch.manual_seed(0)
        net = rec.build().eval()
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        arch = pick(rec.space)
        net.set_arch(arch)
        yield title, net, net.get_active_subnet().eval(), arch, rec


def load() -> str:
    return "load average %.1f / %.1f / %.1f (1 / 5 / 15 min) on %d cores" % (*os.getloadavg(), os.cpu_count())


def torch_stats(model, shape, settings):
    x = torch.randn(shape)
    with torch.no_grad():
        return time_callable(lambda: model(x), settings, "torch", torch.__version__)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--nets", default=",".join(NETS), help=f"comma-separated, from {', '.join(NETS)}")
    p.add_argument("--tune-trials", type=int, default=1024, help="MetaSchedule trials for the tuned TVM row; 0: no row")
    args = p.parse_args()
    nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    if not nets or set(nets) - set(NETS):
        p.error(f"--nets takes names from {', '.join(NETS)}; got {args.nets!r}")
    torch.set_num_threads(args.threads)
    settings = MeasureSettings(threads=args.threads, warmup=10, runs=args.runs)
    backends = default_backends()   # the same set `benchmark` takes by default: those that measure here
    work = Path(tempfile.mkdtemp(prefix="bench_backends_"))
    for tag, (title, supernet, static, arch, rec) in zip(nets, subnets(nets)):
        shape = (1, rec.spec.in_channels, arch.r, arch.r)
        by_hand = handwritten_copy(static)
        runners = {"PyTorch eager: supernet (elastic layers)": lambda: torch_stats(supernet, shape, settings),
                   "PyTorch eager: extracted static subnet": lambda: torch_stats(static, shape, settings),
                   HAND: lambda: torch_stats(by_hand, shape, settings)}
        model = attach(static, {"name": f"extracted_{tag}", "in_channels": shape[1]}, arch, shape)
        hand = attach(by_hand, {"name": f"handwritten_{tag}", "in_channels": shape[1]}, arch, shape)
        art = export(hand, "onnx", work / "hand")  # validated against the hand-written PyTorch net
        runners["onnxruntime fp32, hand-written net"] = lambda a=art: get_backend("onnxruntime").measure(a, settings)
        for name in backends:
            try:
                art = export(model, name, work / name, validate=False)
                untuned = " untuned" if "untuned" in art.format else ""   # tvm: the honest label
                runners[f"{name} fp32{untuned}, extracted subnet"] = (lambda a=art, b=get_backend(name):
                                                                       b.measure(a, settings))
            except Exception as exc:  # a table row says why, the bench goes on
                runners[f"{name} fp32 (export failed: {type(exc).__name__})"] = None
        tuned = tuned_tvm(model, work / f"tvm_tuned_{tag}", args.tune_trials, settings) if "tvm" in backends else {}
        runners.update(tuned)
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
                rows.append([k, f"{m:.3f}", f"{100 * (max(vals) - min(vals)) / m:.0f}%", f"{m / ref:.2f}x", len(vals)])
            else:
                rows.append([k, vals[0] if vals else "not run", "", "", 0])
        print_table(f"{title}: median latency (ms), {args.threads} thread(s), medians of {args.repeats} repeats "
                    f"of {args.runs} runs", ["runner", "median ms", "spread", "vs hand-written PyTorch", "repeats"],
                    rows)
        ort = [medians.get(k) for k in (ORT, "onnxruntime fp32, hand-written net")]
        if all(v and isinstance(v[0], float) for v in ort):
            ratio = statistics.median(ort[0]) / statistics.median(ort[1])
            print(f"{title}: ORT extracted / ORT hand-written = {ratio:.3f} (goal ≤ 1.02)")
        for k in tuned:
            if medians[k] and isinstance(medians[k][0], float) and ort[0] and isinstance(ort[0][0], float):
                print(f"{title}: {k.split(', ')[0]} / ORT = "
                      f"{statistics.median(medians[k]) / statistics.median(ort[0]):.2f} (issue 12 goal ≤ 1.5)")
        print(f"{title}: {load()}")


def tuned_tvm(model, out_dir: Path, trials: int, settings) -> dict:
    """{row name: measure} for TVM tuned with `trials` MetaSchedule trials; prints the tuning time."""
    if trials <= 0:
        return {}
    try:
        art = export(model, "tvm", out_dir, validate=False, tune_trials=trials)
    except Exception as exc:  # a table row says why, the bench goes on
        return {f"tvm fp32 tuned ({trials} trials) (export failed: {type(exc).__name__})": None}
    t = art.extra["tuning"]
    print(f"tvm tuned ({trials} trials): tuning took {t['seconds']:.0f} s"
          f"{' (database reused from the cache)' if not t['seconds'] else ''}, {t['records']} records; {load()}")
    return {f"tvm fp32 tuned ({trials} trials), extracted subnet": lambda: get_backend("tvm").measure(art, settings)}


if __name__ == "__main__":
    main()
