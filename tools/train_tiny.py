"""Reproduce the embedded supernet and its accuracy table.

    python tools/train_tiny.py ps          # progressive shrinking → runs/tiny/ps/final.pth (resumable)
    python tools/train_tiny.py scratch     # the same 12 archs trained from scratch (resumable)
    python tools/train_tiny.py scratch --jobs 12 --device cuda   # all 12 at once on one GPU
    python tools/train_tiny.py report      # test-set table, ships weights + provenance in ofa_deploy/data/

Recipe comparison (issue 13) at a reduced schedule (the epochs of the PS schedule, at most 30
steps each) — each PS run also writes the per-phase table <runs>/ps[-<recipe>]/phase_eval.{json,md};
`compare` prints test-set top-1 of PS (each recipe) against both scratch baselines:

    R="--max-steps-per-epoch 30 --eval-images 2000 --threads 1 --runs runs/h7cmp"
    python tools/train_tiny.py ps --recipe official $R
    python tools/train_tiny.py ps --recipe improved $R
    python tools/train_tiny.py ps --recipe bignas $R      # single stage: whole space, one cosine, summed losses
    python tools/train_tiny.py scratch --only smallest largest random-0 random-1 random-2 random-3 --scratch-epochs full $R
    python tools/train_tiny.py scratch --only smallest largest random-0 random-1 random-2 random-3 --scratch-epochs total $R
    python tools/train_tiny.py compare --only smallest largest random-0 random-1 random-2 random-3 $R
    python tools/train_tiny.py compare --recipes bignas --baselines $R   # only the new column
    python tools/train_tiny.py lr-budget --max-steps-per-epoch 30   # LR × loss weight the largest/smallest get

Every stage resumes after a kill: run the same command again.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import torch

from ofa_deploy.arch import ArchBatch
from ofa_deploy.fileio import atomic_path, atomic_write_text, sha256_file
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.training import (TrainConfig, Trainer, evaluate_arch, load_fashion_mnist, progressive_shrinking,
                                 scratch, split_train_val)
from ofa_deploy.training.phase_eval import PhaseEvaluator, markdown
from ofa_deploy.training.recipe import RECIPES

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "runs" / "tiny"     # --runs
SCALE = 1                          # --scale
SUPERNET = "ofa_tiny_d123_e346_k357"
SHIPPED = REPO / "ofa_deploy" / "data" / "ofa_tiny_fmnist.pth"


def schedule():
    """The PS schedule, every phase's epochs times --scale."""
    base = progressive_shrinking()
    return progressive_shrinking(epochs=tuple(SCALE * p.epochs for p in base.phases))


def archs():
    """The archs of the table: smallest, largest and 10 random ones, all at 28 px."""
    space = get_supernet_record(SUPERNET).space
    rand = ArchBatch.sample(space, 10, rng=2024, resolutions=(28,)).to_archs()
    return [("smallest", space.smallest(28)), ("largest", space.largest(28))] + \
        [(f"random-{i}", a) for i, a in enumerate(rand)]


PHASE_ARCHS = ("smallest", "largest", "random-0", "random-1", "random-2", "random-3")   # the per-phase table's


def data(test: bool = False):
    train, val = split_train_val(load_fashion_mnist("train"), n_val=5000, seed=0)
    return train, val, load_fashion_mnist("test") if test else None


def config(args, **kw) -> TrainConfig:
    """The run's TrainConfig: batch 256, the --recipe, and the reduced-schedule settings."""
    return TrainConfig(supernet=SUPERNET, global_batch=256, recipe=RECIPES[args.recipe],
                       max_steps_per_epoch=args.max_steps_per_epoch, eval_images=args.eval_images, **kw)


def ps_dir(recipe: str) -> Path:
    """runs/…/ps for the official recipe (the shipped run's folder), ps-<recipe> for others."""
    return RUNS / ("ps" if recipe == "official" else f"ps-{recipe}")


def scratch_dir(name: str, which: str) -> Path:
    """scratch/<arch> for the whole PS budget (the shipped baselines), scratch-full/<arch> for the
    epochs of the full-network phase."""
    return RUNS / ("scratch" if which == "total" else "scratch-full") / name


def run_ps(args) -> None:
    train, val, _ = data()
    Trainer(config(args), schedule(), ps_dir(args.recipe), train, val,
            callbacks=[PhaseEvaluator([a for a in archs() if a[0] in PHASE_ARCHS])]).run()


def run_scratch(args) -> None:
    todo = [(n, a) for n, a in archs() if (not args.only or n in args.only)
            and not (scratch_dir(n, args.scratch_epochs) / "final.pth").exists()]
    if args.jobs > 1:  # one process per arch, `jobs` at a time; each resumes on its own
        RUNS.mkdir(parents=True, exist_ok=True)
        pending, running = list(todo), []
        while pending or running:
            while pending and len(running) < args.jobs:
                name, _ = pending.pop(0)
                cmd = [sys.executable, __file__, "scratch", "--only", name, "--threads", "1", "--device", args.device,
                       "--scale", str(SCALE), "--runs", str(RUNS), "--scratch-epochs", args.scratch_epochs,
                       "--eval-images", str(args.eval_images)]
                if args.max_steps_per_epoch:
                    cmd += ["--max-steps-per-epoch", str(args.max_steps_per_epoch)]
                log = open(RUNS / f"scratch-{name}.log", "a")
                running.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
            time.sleep(2)
            for item in [r for r in running if r[1].poll() is not None]:
                running.remove(item)
                item[2].close()
                print(f"from scratch: {item[0]} exited {item[1].returncode}", flush=True)
        return
    train, val, _ = data()
    epochs = schedule().total_epochs if args.scratch_epochs == "total" else schedule().phases[0].epochs
    for name, arch in todo:
        print(f"from scratch: {name} {arch.short()} for {epochs} epochs")
        Trainer(config(args, device=args.device), scratch(arch, epochs),
                scratch_dir(name, args.scratch_epochs), train, val).run()


def run_compare(args) -> None:
    """Test-set top-1 of every finished PS run (each recipe) against both scratch baselines, and
    each run's per-phase validation table."""
    from ofa_deploy.cli.common import print_table

    train, _, test = data(test=True)
    rec = get_supernet_record(SUPERNET)
    nets = {**{f"PS {r}": ps_dir(r) / "final.pth" for r in args.recipes},
            **{f"scratch {w}": None for w in args.baselines}}   # None: per arch
    rows = []
    for name, arch in [a for a in archs() if not args.only or a[0] in args.only]:
        cells = []
        for label, path in nets.items():
            path = path or scratch_dir(name, label.split()[1]) / "final.pth"
            if not path.exists():
                cells.append("–")
                continue
            net = rec.build()
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["state_dict"])
            cells.append(f"{100 * evaluate_arch(net, arch, train, test, rec.mean, rec.std):.2f}")
        if any(c != "–" for c in cells):
            rows.append([name, arch.short()] + cells)
    print_table(f"{RUNS}: Fashion-MNIST test top-1 (%), BN recalibrated", ["subnet", "arch"] + list(nets), rows)
    for r in args.recipes:
        path = ps_dir(r) / "phase_eval.json"
        if path.exists():
            print(f"\nper phase, PS {r} (validation top-1 %):\n" + markdown(json.loads(path.read_text())))


def lr_budget(recipe, phases, steps: int, after: int) -> dict[str, float]:
    """What a recipe gives the largest and the smallest subnet of the whole space: the sum over
    steps of learning rate × that subnet's loss weight, in epoch·LR units, counting the passes
    the recipe makes on it by rule (the one-net full phase, sandwich 'max'/'min'), not random draws;
    also the largest's from epoch `after` on (what the later phases add)."""
    out = {"largest": 0.0, f"largest from epoch {after + 1}": 0.0, "smallest": 0.0}
    done = 0
    for i in range(len(phases)):
        ph = recipe.phase_for(phases, i)
        plan = recipe.plan(ph)
        one_net = ph.arch is not None or all(len(c) <= 1 for c in (ph.ks, ph.e, ph.d))
        last = phases[-1]
        n_max = len(plan) if one_net else plan.count("max")
        whole_min = not one_net and all(min(a) == min(b) for a, b in ((ph.ks, last.ks), (ph.e, last.e), (ph.d, last.d)))
        n_min = plan.count("min") if whole_min else 0
        for e in range(ph.epochs):
            for s in range(steps):
                w = recipe.lr(phases, i, e, s, steps) * recipe.loss_scale(len(plan), 1) / steps
                out["largest"] += w * n_max
                out[f"largest from epoch {after + 1}"] += w * n_max if done + e >= after else 0.0
                out["smallest"] += w * n_min
        done += ph.epochs
    return out


def run_lr_budget(args) -> None:
    """The LR budget of every recipe next to the two scratch baselines' (the same for any arch)."""
    from ofa_deploy.cli.common import print_table

    steps, ps = args.max_steps_per_epoch or 214, schedule()
    after = ps.phases[0].epochs
    rows = [[f"PS {r}"] + [f"{v:.3f}" for v in lr_budget(RECIPES[r], ps.phases, steps, after).values()]
            for r in RECIPES]
    for which in ("full", "total"):
        epochs = ps.total_epochs if which == "total" else after
        b = lr_budget(RECIPES["official"], scratch(get_supernet_record(SUPERNET).space.largest(28), epochs).phases,
                      steps, after)
        rows.append([f"scratch {which} ({epochs} ep)"] + [f"{v:.3f}" for v in list(b.values())[:2]] +
                    [f"{b['largest']:.3f}"])   # any arch alone gets what the largest gets
    print_table(f"Σ LR × loss weight (epoch·LR), {steps} steps per epoch",
                ["run", "largest", f"largest from epoch {after + 1}", "smallest"], rows)


def run_report(args) -> None:
    train, _, test = data(test=True)
    rec = get_supernet_record(SUPERNET)
    ps = rec.build()
    weights = torch.load(RUNS / "ps" / "final.pth", map_location="cpu", weights_only=True)["state_dict"]
    ps.load_state_dict(weights)
    rows = []
    for name, arch in archs():
        a_ps = evaluate_arch(ps, arch, train, test, rec.mean, rec.std)
        path = RUNS / "scratch" / name / "final.pth"
        a_sc = None
        if path.exists():
            net = rec.build()
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["state_dict"])
            a_sc = evaluate_arch(net, arch, train, test, rec.mean, rec.std)
        rows.append((name, arch, a_ps, a_sc))
    history = json.loads((RUNS / "ps" / "history.json").read_text())
    text = provenance(rows, history, args.trained_on)
    if args.no_ship:
        print(text)
        return
    with atomic_path(SHIPPED) as tmp:   # CPU tensors, whatever the run trained on
        torch.save({"state_dict": weights}, tmp)
    atomic_write_text(REPO / "ofa_deploy" / "data" / "ofa_tiny_fmnist.md", text)
    print(text)
    print(f"sha256 {sha256_file(SHIPPED)}  ({SHIPPED.stat().st_size / 1e6:.2f} MB)")


def provenance(rows, history, trained_on: str) -> str:
    """The shipped weights' provenance page: how they were trained, time per epoch, the accuracy table."""
    from ofa_deploy import count_macs

    flags = f" --scale {SCALE}" if SCALE != 1 else ""
    lines = ["# ofa_tiny_fmnist.pth — the embedded supernet", "",
             f"Trained {date.today()} on {trained_on} with "
             f"`python tools/train_tiny.py ps{flags}`; the from-scratch baselines with "
             f"`python tools/train_tiny.py scratch{flags}` (progressive shrinking: "
             + ", ".join(f"{p.name} {p.epochs} ep" for p in schedule().phases) + "; batch 256; "
             "SGD nesterov, cosine LR per phase, label smoothing 0.1, distillation from the full net).", "",
             "Time per epoch (seconds) by phase: " + ", ".join(
                 f"{p}: {sum(h['seconds'] for h in history if h['phase'] == p) / max(1, sum(1 for h in history if h['phase'] == p)):.0f}"
                 for p in dict.fromkeys(h["phase"] for h in history)), "",
             "Fashion-MNIST test top-1 (10,000 images, BN recalibrated on 2,000 training images), the "
             "same archs after progressive shrinking and trained from scratch for the same number of "
             f"epochs ({schedule().total_epochs}):", "",
             "| subnet | arch | MMACs | PS top-1 | scratch top-1 | PS − scratch |", "|---|---|---|---|---|---|"]
    for name, arch, a_ps, a_sc in rows:
        diff = f"{100 * (a_ps - a_sc):+.2f}" if a_sc is not None else "–"
        sc = f"{100 * a_sc:.2f}" if a_sc is not None else "not run"
        lines.append(f"| {name} | `{arch.short()}` | {count_macs(SUPERNET, arch) / 1e6:.2f} | {100 * a_ps:.2f} | {sc} | {diff} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    global RUNS, SCALE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("stage", choices=("ps", "scratch", "report", "compare", "lr-budget"))
    p.add_argument("--recipe", choices=tuple(RECIPES), default="official", help="ps: the training recipe")
    p.add_argument("--max-steps-per-epoch", type=int, help="cap every epoch (reduced-schedule comparisons)")
    p.add_argument("--eval-images", type=int, default=5000, help="validation images per end-of-epoch evaluation")
    p.add_argument("--scratch-epochs", choices=("total", "full"), default="total",
                   help="scratch: the whole PS budget (default) or the full-network phase's epochs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", nargs="*", help="scratch: only these arch names (e.g. to run two in parallel)")
    p.add_argument("--jobs", type=int, default=1, help="scratch: train this many archs at once, one process each")
    p.add_argument("--scale", type=int, default=1, help="multiply every phase's epochs (and scratch's) by this")
    p.add_argument("--runs", type=Path, default=RUNS, help="where runs are kept (default runs/tiny)")
    p.add_argument("--trained-on", default=f"{platform.node()} (CPU, {torch.get_num_threads()} threads)",
                   help="report: the machine the runs were trained on, for the provenance page")
    p.add_argument("--no-ship", action="store_true", help="report: print the table, ship nothing")
    p.add_argument("--recipes", nargs="*", choices=tuple(RECIPES), default=tuple(RECIPES),
                   help="compare: the PS recipes to evaluate (default all)")
    p.add_argument("--baselines", nargs="*", choices=("full", "total"), default=("full", "total"),
                   help="compare: the scratch baselines to evaluate (default both; none with a bare --baselines)")
    p.add_argument("--device", default="auto", help="scratch: cpu, cuda or auto (a GPU when present)")
    args = p.parse_args()
    RUNS, SCALE = args.runs.resolve(), args.scale
    torch.set_num_threads(args.threads)
    t0 = time.time()
    {"ps": run_ps, "scratch": run_scratch, "report": run_report, "compare": run_compare,
     "lr-budget": run_lr_budget}[args.stage](args)
    print(f"{args.stage} done in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
