"""A real training subprocess killed (SIGKILL) in the middle of a distilled phase resumes from its
checkpoint and ends with exactly the weights of an uninterrupted run."""
from __future__ import annotations

import re
import signal
import subprocess
import time

import torch

from tests.training.runs import child_env, final_weights, run_train, train_command


def _position(ckpt) -> dict | None:
    try:
        return torch.load(ckpt, map_location="cpu", weights_only=True)["position"]
    except (FileNotFoundError, RuntimeError, EOFError):
        return None   # not written yet (writes are atomic, so never half a file)


def _kill_mid_run(out, deadline_s: float = 180) -> dict:
    """Start the run, SIGKILL it once its checkpoint is inside the kernel phase; the position then."""
    proc = subprocess.Popen(train_command(out, "--micro-batches", "2"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=child_env())
    try:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and proc.poll() is None:
            pos = _position(out / "checkpoint.pt")
            if pos and pos["phase"] >= 1 and pos["step"] >= 1:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                return _position(out / "checkpoint.pt")
            time.sleep(0.03)
        raise AssertionError(f"the run ended (rc {proc.poll()}) or stalled before the kernel phase: "
                             f"{proc.stderr.read()[-2000:] if proc.poll() is not None else ''}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_resume_after_sigkill_gives_the_uninterrupted_weights(reference_run, tmp_path):
    killed_at = _kill_mid_run(tmp_path)
    assert killed_at["phase"] >= 1 and killed_at["started"], killed_at
    assert not (tmp_path / "final.pth").exists(), "the run finished before it was killed"
    full_snapshot = (tmp_path / "phase-full.pth").stat().st_mtime_ns

    proc = run_train(tmp_path, "--micro-batches", "2")
    m = re.search(r"resuming .* at phase (\d+) epoch (\d+) step (\d+)", proc.stdout)
    assert m, f"the second run did not resume:\n{proc.stdout[-2000:]}"
    assert (int(m[1]), int(m[2]), int(m[3])) == (killed_at["phase"], killed_at["epoch"], killed_at["step"])
    assert (tmp_path / "phase-full.pth").stat().st_mtime_ns == full_snapshot   # phase 0 was not redone

    resumed, ref = final_weights(tmp_path), final_weights(reference_run)
    differing = [k for k in ref if not torch.equal(ref[k], resumed[k])]
    assert resumed.keys() == ref.keys() and not differing, f"{len(differing)} tensors differ: {differing[:3]}"
    history = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["position"]["history"]
    assert [h["phase"] for h in history] == ["full", "kernel", "depth-1", "expand-1"]
