"""Bad flag values, paths and files on every verb: exit 2, one line naming the flag (the CLI's
spelling) and the fix, no traceback, and nothing written (checked before any work starts)."""
import pytest

from tests.helpers.cli import bad, cli

TINY = "ofa_tiny_d123_e346_k357"
TABLE = "latency_tables/ofa_tiny_d123_e346_k357/onnxruntime-cpu"
SEARCH = ("search", "--supernet", TINY, "--device", "onnxruntime-cpu")
GET = ("get", "--supernet", TINY, "--device", "onnxruntime-cpu")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from ofa_deploy.zoo import get_model, save_model

    path = tmp_path_factory.mktemp("model") / "model.pth"
    save_model(get_model(supernet=TINY, macs=1e7, progress=False, verify=False, calib_data=None), path)
    return str(path)


@pytest.fixture
def a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    return tmp_path / "f"


@pytest.fixture
def garbage(tmp_path):
    (tmp_path / "g.pth").write_bytes(b"garbage\n")
    return str(tmp_path / "g.pth")


# ---- benchmark -----------------------------------------------------------------------------
@pytest.mark.parametrize("flag,value", [("--threads", "0"), ("--runs", "0"), ("--warmup", "-1"),
                                        ("--images", "0")])
def test_benchmark_count_flags_out_of_range(model_file, flag, value):
    bad("benchmark", model_file, flag, value, needles=(flag,))


def test_benchmark_min_seconds_nan_is_refused_not_timed_forever(model_file):
    bad("benchmark", model_file, "--backends", "onnxruntime", "--min-seconds", "nan", needles=("--min-seconds nan",))


def test_benchmark_only_coreml_off_macos_measures_nothing(model_file):
    bad("benchmark", model_file, "--backends", "coreml", needles=("--backends", "cannot time models on this host"))


def test_benchmark_unknown_backend_name(model_file):
    bad("benchmark", model_file, "--backends", "tf", needles=("did you mean 'tflite'",))


def test_benchmark_serial_that_does_not_connect_fails_before_exporting(model_file, tmp_path):
    err = bad("benchmark", model_file, "--backends", "tflite", "--serial", "127.0.0.1:1", needles=("127.0.0.1:1",))
    assert "_NotFound" not in err and "export success" not in err


def test_benchmark_garbage_and_missing_model_files(garbage, tmp_path):
    bad("benchmark", garbage, needles=(garbage, "ofa-deploy get --out"))
    bad("benchmark", str(tmp_path / "none.pth"), needles=("none.pth",))


def test_benchmark_data_folder_that_is_empty(model_file, tmp_path):
    (tmp_path / "empty").mkdir()
    bad("benchmark", model_file, "--backends", "onnxruntime", "--data", str(tmp_path / "empty"),
        needles=("is empty",))


# ---- search / get / predict ------------------------------------------------------------------
def test_search_seed_negative():
    bad(*SEARCH, "--latency", "1", "--seed", "-1", needles=("--seed -1",))


@pytest.mark.parametrize("value,needle", [("1,nan", "--pareto nan"), ("1,-2", "--pareto -2")])
def test_search_pareto_budget_not_a_positive_number(value, needle):
    bad(*SEARCH, "--pareto", value, needles=(needle,))


def test_search_macs_limit_negative():
    bad(*SEARCH, "--latency", "1", "--macs", "-5", needles=("--macs",))


def test_search_accuracy_predictor_missing_or_garbage(garbage, tmp_path):
    bad(*SEARCH, "--latency", "1", "--accuracy-predictor", str(tmp_path / "none.pth"), needles=("does not exist",))
    err = bad(*SEARCH, "--latency", "1", "--accuracy-predictor", garbage, needles=(garbage,))
    assert "weights_only=False" not in err


def test_search_out_under_a_file(a_file):
    bad(*SEARCH, "--latency", "1", "--out", str(a_file / "x.json"), needles=("is a file",))


def test_get_resolution_off_the_grid():
    bad(*GET, "--latency", "1", "--resolutions", "26", needles=("--resolutions 26", "steps of 4"))


def test_get_weights_garbage_or_missing(garbage, tmp_path):
    err = bad(*GET, "--latency", "1", "--weights", garbage, "--out", str(tmp_path / "o"), needles=("--weights",))
    assert "weights_only=False" not in err
    bad(*GET, "--latency", "1", "--weights", str(tmp_path / "none.pth"), "--out", str(tmp_path / "o"),
        needles=("no such file",))
    assert not (tmp_path / "o").exists()


def test_get_infeasible_tiny_budget_prints_its_digits(tmp_path):
    bad(*GET, "--latency", "0.001", "--no-verify", "--out", str(tmp_path / "o"),
        needles=("0.001 ms", "raise the limit"))


def test_get_unknown_device_and_supernet(tmp_path):
    bad("get", "--supernet", TINY, "--device", "nodevice", "--latency", "1", needles=("unknown device",))
    bad("get", "--supernet", "nosuch", "--device", "onnxruntime-cpu", "--latency", "1", needles=("unknown supernet",))


@pytest.mark.parametrize("arch,needle", [("notjson", "--arch 'notjson'"), ("r26-d123-k357357357-e346346346",
                                                                         "resolution 26"), ("{broken", "not JSON")])
def test_predict_arch_that_is_not_one(arch, needle):
    bad("predict", "--supernet", TINY, "--device", "onnxruntime-cpu", "--arch", arch, needles=(needle,))


# ---- lut ----------------------------------------------------------------------------------
@pytest.mark.parametrize("extra,needle", [
    (["--resolutions", "0"], "--resolutions 0"), (["--resolutions", "26"], "--resolutions 26"),
    (["--calibrate", "2"], "--calibrate 2 is too few"), (["--calibrate", "-1"], "--calibrate -1"),
    (["--runs", "0"], "--runs 0"), (["--min-seconds", "nan"], "--min-seconds nan"),
])
def test_lut_build_settings_refused_before_measuring(tmp_path, extra, needle):
    out = tmp_path / "t"
    bad("lut", "build", "--supernet", TINY, "--backend", "onnxruntime", "--out", str(out), *extra, needles=(needle,))
    assert not out.exists()


def test_lut_build_out_under_a_file(a_file):
    bad("lut", "build", "--supernet", TINY, "--backend", "onnxruntime", "--out", str(a_file / "t"),
        needles=("is a file",))


@pytest.mark.parametrize("extra,needle", [(["-n", "0"], "-n 0 must be"), (["--searched", "-1"], "--searched -1")])
def test_lut_evaluate_counts_out_of_range(tmp_path, extra, needle):
    out = tmp_path / "e"
    bad("lut", "evaluate", TABLE, "--backend", "onnxruntime", "--out", str(out), *extra, needles=(needle,))
    assert not out.exists()


def test_lut_evaluate_out_under_a_file(a_file):
    bad("lut", "evaluate", TABLE, "--backend", "onnxruntime", "--out", str(a_file / "e"), needles=("is a file",))


def test_lut_show_and_evaluate_of_a_missing_table(tmp_path):
    bad("lut", "show", str(tmp_path / "none"), needles=("no such latency-table folder",))
    bad("lut", "evaluate", str(tmp_path / "none"), "--backend", "onnxruntime", needles=("no such latency-table",))


def test_lut_adapt_too_few_subnets():
    bad("lut", "adapt", TABLE, "--backend", "onnxruntime", "-n", "3", needles=("-n 3 is too few",))


# ---- export -------------------------------------------------------------------------------
def test_export_precision_no_backend_offers(model_file, tmp_path):
    bad("export", model_file, "-f", "onnx", "--precision", "int4", "--out", str(tmp_path / "o"), needles=("int4",))
    assert not (tmp_path / "o").exists()


def test_export_calib_data_folder_that_is_empty(model_file, tmp_path):
    (tmp_path / "empty").mkdir()
    bad("export", model_file, "-f", "onnx", "--precision", "int8", "--calib-data", str(tmp_path / "empty"),
        "--out", str(tmp_path / "o"), needles=("is empty",))


# ---- environment variables ---------------------------------------------------------------------
def test_hub_url_env_var_that_is_not_a_url(tmp_path):
    r = cli("get", "--supernet", "ofa_mbv3_d234_e346_k357_w1.0", "--device", "note10", "--latency", "25",
            "--out", str(tmp_path / "o"),   # a supernet whose weights come from the hub
            env={"OFA_DEPLOY_HUB_URL": "not a url", "OFA_DEPLOY_OFFLINE": "", "OFA_DEPLOY_CACHE": str(tmp_path / "c")})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "OFA_DEPLOY_HUB_URL='not a url' is not a URL" in r.stderr and "checksum" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_fashion_mnist_env_var_pointing_nowhere(tmp_path):
    bad("train", "--out", str(tmp_path / "run"), env={"OFA_DEPLOY_FMNIST": str(tmp_path / "none")},
        needles=("Fashion-MNIST not found", "OFA_DEPLOY_FMNIST"))
    assert not (tmp_path / "run").exists()


def test_search_plot_under_a_file_fails_before_searching(a_file):
    err = bad(*SEARCH, "--pareto", "0.5,1", "--plot", str(a_file / "front.png"), needles=("--plot", "is a file"))
    assert "it/s" not in err   # no search progress bar: refused first


def test_export_int8_without_calib_data_is_refused_before_exporting_in_flag_spelling(model_file, tmp_path):
    err = bad("export", model_file, "-f", "onnx", "--precision", "int8", "--out", str(tmp_path / "o"),
              needles=("--calib-data",))
    assert "calibration=" not in err and not (tmp_path / "o").exists()


def test_get_hub_supernet_offline_without_weights_says_no_pretrained(tmp_path):
    err = bad("get", "--supernet", "ofa_mbv3_d234_e346_k357_w1.0", "--device", "note10", "--latency", "25",
              "--out", str(tmp_path / "o"), env={"OFA_DEPLOY_CACHE": str(tmp_path / "c")}, needles=("--no-pretrained",))
    assert "pretrained=False" not in err and not (tmp_path / "o").exists()


def test_get_int8_format_without_calib_data_is_refused_before_the_search(tmp_path):
    err = bad(*GET, "--latency", "1", "--no-verify", "-f", "onnx", "--precision", "int8", "--out", str(tmp_path / "o"),
              needles=("--calib-data",))
    assert "it/s" not in err and not (tmp_path / "o").exists()
