"""Where progressive shrinking loses accuracy: top-1 of the same fixed subnets (smallest, largest,
a seeded handful of random ones) after every phase, each BN-recalibrated, as the official code
validates with `set_running_statistics`. Written to `<run>/phase_eval.json` and `.md` atomically
after each phase; a resumed run, or a callback added to a run already under way, fills in the
phases it missed from their `phase-<name>.pth` snapshots, and never re-evaluates a finished row."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch

from ..arch import ArchBatch, ArchConfig, SearchSpace
from ..fileio import atomic_write_json, atomic_write_text
from .evaluate import evaluate_arch
from ..errors import FileFormatError

STEM = "phase_eval"


def fixed_archs(space: SearchSpace, r: int, n_random: int = 4, seed: int = 2024) -> list[tuple[str, ArchConfig]]:
    """(name, arch): the smallest, the largest, then `n_random` seeded random archs, at resolution r."""
    rand = ArchBatch.sample(space, n_random, rng=seed, resolutions=(r,)).to_archs() if n_random else []
    return [("smallest", space.smallest(r)), ("largest", space.largest(r))] + \
        [(f"random-{i}", a) for i, a in enumerate(rand)]


def update_phase_table(run_dir: str | Path, phases: Sequence[str], record, train, val,
                       archs: Sequence[tuple[str, ArchConfig]], calib_images: int = 2000,
                       eval_images: int | None = None, device: torch.device | str = "cpu") -> dict:
    """Evaluate `archs` on every phase of `phases` that has a snapshot in `run_dir` and no row in
    its table yet; save the table (JSON + Markdown) after each new row. Returns the table."""
    run_dir = Path(run_dir)
    path = run_dir / f"{STEM}.json"
    setup = {"archs": {n: a.to_dict() for n, a in archs}, "calib_images": calib_images, "eval_images": eval_images}
    table = json.loads(path.read_text()) if path.exists() else {**setup, "rows": {}}
    if {k: table.get(k) for k in setup} != json.loads(json.dumps(setup)):
        raise FileFormatError(f"{path} was made with other subnets or image counts; delete it or evaluate into "
                         f"another run folder")
    for name in phases:
        snap = run_dir / f"phase-{name}.pth"
        if name in table["rows"] or not snap.exists():
            continue
        net = record.build()
        net.load_state_dict(torch.load(snap, map_location="cpu", weights_only=True)["state_dict"])
        net.to(device)
        table["rows"][name] = {n: evaluate_arch(net, a, train, val, record.mean, record.std, calib_images,
                                                eval_images, device) for n, a in archs}
        atomic_write_json(path, table)
        atomic_write_text(run_dir / f"{STEM}.md", markdown(table))
    return table


def markdown(table: dict) -> str:
    """The table as Markdown: one row per phase, top-1 (%) per subnet and the random ones' mean."""
    names = list(table["archs"])
    rand = [n for n in names if n.startswith("random")]
    head = names + (["random mean"] if rand else [])
    lines = ["| after phase | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for phase, row in table["rows"].items():
        cells = [f"{100 * row[n]:.2f}" for n in names]
        if rand:
            cells.append(f"{100 * sum(row[n] for n in rand) / len(rand):.2f}")
        lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


class PhaseEvaluator:
    """A Trainer callback: `update_phase_table` on the run's folder at the end of every phase.

    The subnets default to `fixed_archs` at 28 px (or the largest training resolution), the image
    counts to the run's `calib_images` / `eval_images`."""

    def __init__(self, archs: Sequence[tuple[str, ArchConfig]] | None = None, n_random: int = 4, seed: int = 2024):
        self.archs, self.n_random, self.seed = archs, n_random, seed

    def on_phase_end(self, trainer, index: int) -> None:
        """Fill in the rows of phases 0..index (normally just this one)."""
        r = 28 if 28 in trainer.resolutions else max(trainer.resolutions)
        archs = self.archs or fixed_archs(trainer.record.space, r, self.n_random, self.seed)
        update_phase_table(trainer.out, [p.name for p in trainer.schedule.phases[:index + 1]], trainer.record,
                           trainer.train_set, trainer.val_set, archs, trainer.cfg.calib_images,
                           trainer.cfg.eval_images, trainer.device)
