"""Bad training requests: data folders that are empty, corrupt or too small, a device this host
lacks, settings out of range, an arch that is not one — each refused before any work starts (no
run folder written), in the library with a typed error and on the CLI with its flag and exit 2."""
import numpy as np
import pytest
from PIL import Image

from ofa_deploy.errors import BadArgumentError, DataNotFoundError, FileFormatError, OfaDeployError
from ofa_deploy.registry import get_supernet_record
from ofa_deploy.training.checks import check_device, check_numbers, check_train_request
from ofa_deploy.training.data import check_training_data, load_image_folder, load_training_data

from tests.helpers.cli import bad

TINY = get_supernet_record("ofa_tiny_d123_e346_k357")


def _pngs(folder, classes=("a", "b"), per_class=3):
    for c in classes:
        (folder / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / c / f"{i}.png")
    return folder


@pytest.fixture
def corrupt(tmp_path):
    root = _pngs(tmp_path / "corrupt")
    (root / "b" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    return root


# ---- library: data -------------------------------------------------------------------------
def test_data_folder_that_is_empty(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="is empty; expected one sub-folder per class"):
        check_training_data(str(tmp_path / "empty"), 1)


def test_data_folder_with_loose_images_and_no_class_folders(tmp_path):
    (tmp_path / "loose").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "loose" / "x.png")
    with pytest.raises(DataNotFoundError, match="holds 1 image.* but no class sub-folders"):
        check_training_data(str(tmp_path / "loose"), 1)


def test_data_class_folder_without_images(tmp_path):
    root = _pngs(tmp_path / "d", classes=("a",))
    (root / "b").mkdir()
    (root / "b" / "notes.txt").write_text("no images")
    with pytest.raises(DataNotFoundError, match=r"class folder .*b holds no \.jpg/\.png images"):
        check_training_data(str(root), 1)


def test_data_with_a_corrupt_png_names_the_file(corrupt):
    with pytest.raises(FileFormatError, match=r"bad\.png cannot be read .*replace or delete it"):
        check_training_data(str(corrupt), 1)
    with pytest.raises(FileFormatError, match=r"bad\.png"):   # and the loader names it too
        load_image_folder(corrupt, 8, 1)


def test_data_with_a_truncated_png(tmp_path):
    root = _pngs(tmp_path / "d")
    good = (root / "a" / "0.png").read_bytes()
    (root / "a" / "0.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(FileFormatError, match=r"0\.png cannot be read"):
        check_training_data(str(root), 1)


def test_data_with_fewer_images_than_val_images(tmp_path):
    root = _pngs(tmp_path / "few")
    with pytest.raises(BadArgumentError, match=r"6 images cannot spare 5000 for validation; pass a smaller "
                                               r"val_images= \(at most 5\)"):
        check_training_data(str(root), 5000)
    with pytest.raises(BadArgumentError, match="cannot spare 6"):
        load_training_data(str(root), 8, 1, n_val=6)


@pytest.mark.parametrize("n_val", [0, -3, 2.5])
def test_val_images_not_a_positive_whole_number(tmp_path, n_val):
    with pytest.raises(BadArgumentError, match="val_images"):
        check_training_data(str(_pngs(tmp_path / "d")), n_val)


def test_data_with_train_but_no_val_folder(tmp_path):
    _pngs(tmp_path / "d" / "train")
    with pytest.raises(DataNotFoundError, match="has train/ but no val/"):
        check_training_data(str(tmp_path / "d"), 1)


def test_data_train_and_val_with_different_classes(tmp_path):
    _pngs(tmp_path / "d" / "train", classes=("a", "b"))
    _pngs(tmp_path / "d" / "val", classes=("a", "c"))
    with pytest.raises(DataNotFoundError, match="different class folders"):
        check_training_data(str(tmp_path / "d"), 1)


def test_data_with_more_classes_than_the_supernet_has(tmp_path):
    root = _pngs(tmp_path / "d", classes=[f"c{i:02d}" for i in range(11)], per_class=1)
    with pytest.raises(BadArgumentError, match="11 class folders but the supernet has 10 outputs"):
        check_training_data(str(root), 1, n_classes=10)


def test_data_that_is_neither_fashion_mnist_nor_a_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="neither 'fashion-mnist' nor a folder"):
        check_training_data(str(tmp_path / "nope"), 1)


def test_fashion_mnist_val_images_larger_than_its_training_set():
    with pytest.raises(BadArgumentError, match="60000 training images cannot spare 60000"):
        check_training_data("fashion-mnist", 60000)


def test_good_folder_passes_and_counts_its_images(tmp_path):
    assert check_training_data(str(_pngs(tmp_path / "d")), 2) == 6


# ---- library: device, numbers, resolutions --------------------------------------------------
def test_device_cuda_without_a_gpu():
    import torch

    if torch.cuda.is_available():   # on a GPU host, an index past the last GPU is the same mistake
        with pytest.raises(BadArgumentError, match="cuda:99 cannot be used"):
            check_device("cuda:99")
        return
    with pytest.raises(BadArgumentError, match="no CUDA GPU visible to torch; use device=cpu"):
        check_device("cuda")


@pytest.mark.parametrize("device", ["gpu", "cpu:0", "cuda0", ""])
def test_device_name_that_is_not_a_training_device(device):
    with pytest.raises(BadArgumentError, match="not a training device"):
        check_device(device)


@pytest.mark.parametrize("kwargs,needle", [
    ({"batch": 0}, "batch=0 must be ≥ 1"), ({"micro_batches": 0}, "micro_batches=0"),
    ({"lr": [0.1, float("nan")]}, "lr=nan"), ({"lr": [0]}, "lr=0 must be > 0"),
    ({"epochs": [1, -1]}, "epochs=-1"), ({"label_smoothing": 1.0}, "below 1"),
    ({"kd_ratio": float("inf")}, "kd_ratio=inf"), ({"calib_images": 0}, "calib_images=0"),
    ({"ckpt_every": 0}, "ckpt_every=0"), ({"batch": 100, "nproc": 3}, "split evenly"),
])
def test_training_numbers_out_of_range(kwargs, needle):
    with pytest.raises(BadArgumentError, match=needle.replace("(", r"\(")):
        check_numbers(**kwargs)


def test_train_resolution_off_the_grid_and_out_under_a_file(tmp_path):
    with pytest.raises(OfaDeployError, match="26 is not a resolution"):
        check_train_request(TINY, "fashion-mnist", 100, "cpu", [26])
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadArgumentError, match="is a file, not a folder"):
        check_train_request(TINY, "fashion-mnist", 100, "cpu", out=tmp_path / "f" / "run")


# ---- the CLI: flag spelling, exit 2, nothing written ------------------------------------------
@pytest.mark.parametrize("extra,needle", [
    (["--data", "EMPTY"], "is empty"),
    (["--data", "CORRUPT"], "bad.png cannot be read"),
    (["--data", "FEW"], "pass a smaller --val-images (at most 5)"),
    (["--device", "cuda:7"], "--device cuda:7"),
    (["--arch", "notjson"], "--arch 'notjson'"),
    (["--arch", '{"ks": [4]}'], "lacks ['e', 'd']"),
    (["--resolutions", "26"], "--resolutions 26"),
    (["--batch", "0"], "--batch 0"),
    (["--micro-batches", "0"], "--micro-batches 0"),
    (["--lr", "nan", "1", "1", "1", "1", "1"], "--lr nan"),
    (["--val-images", "0"], "--val-images 0"),
])
def test_train_cli_refuses_before_any_work(tmp_path, corrupt, extra, needle):
    (tmp_path / "empty").mkdir()
    folders = {"EMPTY": tmp_path / "empty", "CORRUPT": corrupt, "FEW": _pngs(tmp_path / "few")}
    extra = [str(folders.get(x, x)) for x in extra]
    out = tmp_path / "run"
    bad("train", "--out", str(out), "--max-steps-per-epoch", "1", *extra, needles=(needle,))
    assert not out.exists()


def test_train_cli_out_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    bad("train", "--out", str(tmp_path / "f" / "run"), needles=("--out", "is a file"))
