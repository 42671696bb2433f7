"""TVM backend with the real apache-tvm (Relax): compile and run on this host with fp32 parity,
C-source and aarch64 exports, local and RPC measurement, clear errors for bad targets."""
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import torch

import ofa_deploy
from ofa_deploy import get_supernet
from ofa_deploy.deploy import get_backend
from ofa_deploy.deploy.base import MeasureSettings
from ofa_deploy.errors import BackendUnavailableError, OfaDeployError
from ofa_deploy.plugins.shared import OptionError
from ofa_deploy.plugins.tvm.target import parse_target

AARCH64 = {"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mattr": ["+neon"]}


@pytest.fixture(scope="module")
def host_lib(tiny_subnet, tmp_path_factory):
    return ofa_deploy.export(tiny_subnet, "tvm", tmp_path_factory.mktemp("tvm"))


@pytest.fixture(scope="module")
def rpc_server():
    """A real TVM RPC server on a free loopback port, in its own process group."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_server", "--host", "127.0.0.1", "--port", str(port),
                             "--port-end", str(port + 1)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, "the TVM RPC server exited at start-up"
            time.sleep(0.5)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_llvm_library_runs_with_fp32_parity(host_lib):
    assert host_lib.path.suffix == ".so" and host_lib.extra["frontend"] == "onnx"
    assert host_lib.card["parity"]["max_abs_diff"] <= 1e-4 and host_lib.card["parity"]["top1_agreement"] == 1.0
    assert get_backend("tvm").read_card(host_lib.path)["precision"] == "fp32"   # from the sidecar


def test_torch_export_frontend_matches(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "tvm", tmp_path, frontend="torch", target='{"kind": "llvm"}')
    assert art.extra["frontend"] == "torch" and art.card["parity"]["max_abs_diff"] <= 1e-4


def test_local_measure_with_threads(host_lib):
    stats = get_backend("tvm").measure(host_lib, MeasureSettings(threads=2, warmup=2, runs=10))
    assert stats.count == 10 and stats.runtime == "tvm-llvm" and stats.settings["threads"] == 2
    assert 0 < stats.min <= stats.median <= stats.max


def test_c_source_export_carries_card(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "tvm", tmp_path, target={"kind": "c"})
    with tarfile.open(art.path) as t:
        names = t.getnames()
        source = t.extractfile([n for n in names if n.startswith("lib")][0]).read().decode()
    assert any(n.endswith(".c") for n in names) and "TVM_DLL" in source
    assert get_backend("tvm").read_card(art.path)["format"] == "tvm (untuned)"
    assert not get_backend("tvm").can_run(art)


def test_aarch64_cross_compile_exports_arm_objects(tiny_subnet, tmp_path):
    art = ofa_deploy.export(tiny_subnet, "tvm", tmp_path, target=AARCH64)
    assert art.extra["export"] == "tar" and art.card["spec_check"]["export"] == "tar"
    with tarfile.open(art.path) as t:
        obj = t.extractfile([n for n in t.getnames() if n.endswith(".o")][0]).read(20)
    assert obj[:4] == b"\x7fELF" and int.from_bytes(obj[18:20], "little") == 183   # EM_AARCH64
    with pytest.raises(BackendUnavailableError, match="does not run on this host"):
        get_backend("tvm").measure(art, MeasureSettings(runs=1, warmup=0))


def test_rpc_measure_on_loopback_server(host_lib, rpc_server):
    settings = MeasureSettings(threads=1, warmup=1, runs=5, options={"rpc_host": "127.0.0.1", "rpc_port": rpc_server})
    stats = get_backend("tvm").measure(host_lib, settings)
    assert stats.count == 5 and stats.runtime == "tvm-rpc" and stats.device == f"rpc:127.0.0.1:{rpc_server}"
    assert stats.min > 0


def test_unreachable_rpc_server_says_how_to_start_one(host_lib):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendUnavailableError, match="tvm.exec.rpc_server"):
        get_backend("tvm").measure(host_lib, MeasureSettings(options={"rpc_host": "127.0.0.1", "rpc_port": port}))


@pytest.mark.parametrize("bad, message", [({"mcpu": "skylake"}, "has no 'kind'"),
                                          ({"kind": "llvmx"}, "cannot build target"),
                                          ("llvm -mcpu=skylake", "neither a JSON object"),
                                          (["llvm"], "must be a dict")])
def test_bad_targets_give_clear_errors(bad, message):
    with pytest.raises(OptionError, match=message):
        parse_target(bad)


def test_target_from_json_file(tmp_path):
    f = tmp_path / "target.json"
    f.write_text('{"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mattr": ["+neon"]}')
    target, spec = parse_target(f)
    assert spec == AARCH64 and "arm_cpu" in target.keys


def test_ofa_mbv3_subnet_at_128px_matches_torch(tmp_path):
    torch.manual_seed(0)
    net = get_supernet("ofa_mbv3_d234_e346_k357_w1.0")
    for m in net.modules():  # non-trivial BN statistics so the logits are not near zero
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    net.set_arch(net.space.sample(rng=1, resolutions=(128,)))
    sub = net.get_active_subnet().eval()
    x = torch.randn(1, 3, 128, 128)
    assert sub(x).std() > 1e-3
    art = ofa_deploy.export(sub, "tvm", tmp_path, example_input=x)
    assert art.card["parity"]["max_abs_diff"] <= 1e-4 and art.card["input_shape"] == [1, 3, 128, 128]


def test_short_tuning_run_is_cached_and_reused(tiny_subnet, tmp_path, monkeypatch):
    """A few MetaSchedule trials tune once into the user cache; the second export applies them."""
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path / "cache"))
    first = ofa_deploy.export(tiny_subnet, "tvm", tmp_path / "a", tune_trials=4)
    tuning = first.extra["tuning"]
    assert first.format == "tvm (tuned (4 trials))" and tuning["seconds"] > 0 and tuning["records"] >= 1
    assert Path(tuning["database"]).is_relative_to(tmp_path / "cache")
    # 4 trials are one round for one kernel: only the kernel with the most untuned time is tuned
    assert len((Path(tuning["database"]) / "database_workload.json").read_text().splitlines()) == 1
    assert first.card["parity"]["max_abs_diff"] <= 1e-4
    second = ofa_deploy.export(tiny_subnet, "tvm", tmp_path / "b", tune_trials=4)
    assert second.extra["tuning"]["seconds"] == 0 and second.extra["tuning"]["records"] == tuning["records"]
    assert second.extra["tuning"]["database"] == tuning["database"]
    assert second.card["parity"]["max_abs_diff"] <= 1e-4


def test_untuned_export_is_labelled(host_lib):
    assert host_lib.format == "tvm (untuned)" and host_lib.extra["tuning"] == {"trials": 0, "label": "untuned"}


@pytest.mark.parametrize("bad", [-1, 2.5, "many", True])
def test_bad_trial_budget_is_refused(tiny_subnet, tmp_path, bad):
    with pytest.raises(OptionError, match="tune_trials must be a non-negative integer"):
        ofa_deploy.export(tiny_subnet, "tvm", tmp_path, tune_trials=bad, validate=False)


def test_unknown_export_option_is_refused(tiny_subnet, tmp_path):
    with pytest.raises(OfaDeployError, match="tune_trails"):
        ofa_deploy.export(tiny_subnet, "tvm", tmp_path, tune_trails=8)
    with pytest.raises(OptionError, match="does not take export option"):
        get_backend("tvm").export(tiny_subnet, torch.randn(1, 1, 28, 28), tmp_path, tune_trails=8)
