"""The accuracy predictor: official encoding and checkpoint compatibility, training, the
resumable dataset builder, loading errors."""
import numpy as np
import pytest
import torch

from ofa_deploy.accuracy import (ArchEncoder, MacsProxy, build_dataset, load_accuracy_predictor, planned_archs,
                                 train_predictor)
from ofa_deploy.arch import ArchBatch
from ofa_deploy.errors import UnknownNameError
from ofa_deploy.profile import count_macs
from ofa_deploy.registry import get_supernet_record

W12 = get_supernet_record("ofa_mbv3_w1.2")
TINY = get_supernet_record("tiny")


def reference_encoding(arch) -> np.ndarray:
    """The official 128-feature layout, written out the slow way from its description."""
    ks_map, e_map = {3: 0, 5: 1, 7: 2}, {3: 0, 4: 1, 6: 2}
    ks_oh, e_oh = np.zeros((20, 3)), np.zeros((20, 3))
    for stage, depth in enumerate(arch.d):
        for pos in range(depth):
            i = stage * 4 + pos
            ks_oh[i, ks_map[arch.ks[i]]] = 1
            e_oh[i, e_map[arch.e[i]]] = 1
    r_oh = np.zeros(8)
    r_oh[(arch.r - 112) // 16] = 1
    return np.concatenate([ks_oh.ravel(), e_oh.ravel(), r_oh])


def official_checkpoint(path, seed=0):
    """A bare state dict in the official layout (nn.Sequential keys 0.*, 2.*, 4.*, 6.*)."""
    torch.manual_seed(seed)
    mlp = torch.nn.Sequential(torch.nn.Linear(128, 400), torch.nn.ReLU(), torch.nn.Linear(400, 400),
                              torch.nn.ReLU(), torch.nn.Linear(400, 400), torch.nn.ReLU(), torch.nn.Linear(400, 1))
    torch.save(mlp.state_dict(), path)
    return mlp


def test_encoding_matches_official_layout():
    batch = ArchBatch.sample(W12.space, 60, rng=3)
    enc = ArchEncoder.for_space(W12.space)
    assert enc.n_features == 128
    got = enc.encode_batch(batch)
    want = np.stack([reference_encoding(a) for a in batch.to_archs()])
    np.testing.assert_array_equal(got, want)


def test_official_checkpoint_loads_and_predicts_like_torch(tmp_path):
    mlp = official_checkpoint(tmp_path / "acc_predictor.pth")
    pred = load_accuracy_predictor(str(tmp_path / "acc_predictor.pth"), "ofa_mbv3_w1.2")
    archs = ArchBatch.sample(W12.space, 32, rng=5).to_archs()
    feats = torch.tensor(np.stack([reference_encoding(a) for a in archs]), dtype=torch.float32)
    with torch.no_grad():
        want = mlp(feats).squeeze(1).numpy()
    np.testing.assert_allclose(pred.predict(archs), want, rtol=1e-5, atol=1e-6)
    assert pred.source == "official"
    # and writes back the same bare form the official code loads
    pred.save(tmp_path / "again.pth", official=True)
    again = torch.load(tmp_path / "again.pth", weights_only=True)
    assert sorted(again) == sorted(mlp.state_dict())


def test_skipped_blocks_do_not_change_the_prediction(tmp_path):
    official_checkpoint(tmp_path / "p.pth")
    pred = load_accuracy_predictor(str(tmp_path / "p.pth"), "ofa_mbv3_w1.2")
    base = W12.space.smallest(192)                      # depth 2 in every stage: positions 2, 3 skipped
    Arch = type(base)
    a = Arch(ks=tuple(5 if i % 4 < 2 else 3 for i in range(20)), e=tuple(4 if i % 4 < 2 else 3 for i in range(20)),
             d=base.d, r=192)
    b = Arch(ks=tuple(5 if i % 4 < 2 else 7 for i in range(20)), e=tuple(4 if i % 4 < 2 else 6 for i in range(20)),
             d=base.d, r=192)
    assert pred.predict(a) == pred.predict(b)
    assert pred.predict(a) != pred.predict(base)


def test_trained_predictor_ranks_a_known_signal():
    batch = ArchBatch.sample(TINY.space, 300, rng=0)
    macs = np.asarray(count_macs(TINY.name, batch))
    top1 = 0.6 + 0.3 * (np.log(macs) - np.log(macs).min()) / np.ptp(np.log(macs))
    from ofa_deploy.accuracy import FitConfig

    pred, report = train_predictor(batch, top1, FitConfig(epochs=60), progress=False)
    assert report["held_out"]["spearman"] > 0.9, report
    assert report["held_out"]["rmse_pct"] < 3.0, report


def test_dataset_builder_resumes_after_interruption(tmp_path):
    calls = []

    def evaluate(arch):
        calls.append(arch)
        if len(calls) == 7:
            raise KeyboardInterrupt  # a kill halfway through
        return 0.5 + 0.001 * len(calls)

    path = tmp_path / "ds.json"
    with pytest.raises(KeyboardInterrupt):
        build_dataset(path, TINY.name, TINY.space, evaluate, n=12, progress=False)
    assert len(build_dataset.__globals__["AccuracyDataset"].load(path)) == 6
    calls.clear()
    ds = build_dataset(path, TINY.name, TINY.space, lambda a: calls.append(a) or 0.7, n=12, progress=False)
    assert len(ds) == 12 and len(calls) == 6
    assert [a.to_dict() for a in ds.archs] == [a.to_dict() for a in planned_archs(TINY.space, 12, 0)]
    with pytest.raises(ValueError, match="built for"):  # other weights never mix into this file
        build_dataset(path, TINY.name, TINY.space, evaluate, n=12, meta={"weights_sha256": "other"}, progress=False)


def test_loading_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_accuracy_predictor(str(tmp_path / "missing.pth"), "tiny")
    with pytest.raises(UnknownNameError, match="macs"):
        load_accuracy_predictor("mcas", "tiny")
    torch.save({"weird": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="not an accuracy-predictor"):
        load_accuracy_predictor(str(tmp_path / "bad.pth"), "tiny")
    official_checkpoint(tmp_path / "w12.pth")
    with pytest.raises(Exception, match="belongs to another space"):
        load_accuracy_predictor(str(tmp_path / "w12.pth"), "tiny").predict(TINY.space.largest(28))


def test_macs_proxy_is_labelled_as_not_an_accuracy():
    proxy = load_accuracy_predictor("macs", "tiny")
    assert isinstance(proxy, MacsProxy) and proxy.is_accuracy is False
    small, large = TINY.space.smallest(28), TINY.space.largest(28)
    assert proxy.predict(small) < proxy.predict(large)
