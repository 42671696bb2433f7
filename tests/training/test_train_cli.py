"""`ofa-deploy train`: bad arguments exit 2 with a sentence saying what to do; one arch trained
from scratch on an image folder of PNGs written here."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ofa_deploy.cli import main
from ofa_deploy.registry import get_supernet_record


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "1", "2"], "one value per PS phase"),
    (["--batch", "15", "--nproc", "2"], "must split evenly"),
    (["--data", "/no/such/folder"], "neither 'fashion-mnist' nor a folder"),
    (["--arch", '{"ks": [3], "e": [3], "d": [1]}'], "ks"),
    (["--subnets-per-step", "0"], "trains nothing"),
    (["--recipe", "improved", "--bn-momentum", "3"], "--bn-momentum must lie in (0, 1]"),
    (["--recipe", "bignas", "--bn-momentum", "3"], "--bn-momentum must lie in (0, 1]"),   # the recipe is known
    (["--recipe", "bignas-mean", "--restart-warmup-epochs", "1"], "takes neither phase_lr nor --restart-warmup"),
])
def test_bad_arguments_exit_2(argv, message, tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "run"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_from_scratch_arch_on_a_png_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for label, name in enumerate(("dark", "mid", "light")):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(8):
            img = np.clip(rng.normal(40 + 90 * label, 10, (20, 20)), 0, 255).astype(np.uint8)
            Image.fromarray(img, mode="L").save(tmp_path / "data" / name / f"{i}.png")
    space = get_supernet_record("tiny").space
    arch = space.smallest(24)
    out = tmp_path / "run"
    rc = main(["train", "--data", str(tmp_path / "data"), "--out", str(out), "--arch",
               json.dumps({"ks": list(arch.ks), "e": list(arch.e), "d": list(arch.d)}), "--epochs", "3",
               "--lr", "0.05", "--batch", "6", "--val-images", "6", "--calib-images", "18", "--resolutions", "24",
               "--threads", "1", "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "top1_arch" in printed and "final.pth" in printed
    history = json.loads((out / "history.json").read_text())
    assert [h["phase"] for h in history] == ["scratch"] * 3 and all(h["steps"] == 3 for h in history)
    assert all(0.0 <= h["top1_arch"] <= 1.0 for h in history)
    weights = torch.load(out / "final.pth", weights_only=True)["state_dict"]
    net = get_supernet_record("tiny").build()
    net.load_state_dict(weights)
    net.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))
    logits = net.eval()(torch.zeros(2, 1, 24, 24))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
