"""Quiet by default: a real tflite and Core ML export from the CLI shows our step lines and none of
the converters' native log lines (absl, oneDNN, torchao, XNNPACK, coremltools' progress bars);
`--verbose` lets them through."""
import re
import subprocess
import sys

import pytest

from ofa_deploy.zoo import get_model, save_model

CLI = [sys.executable, "-m", "ofa_deploy.cli"]
# what the runtimes print on their own: glog/absl prefixes (I0000 00:00…, W1201 23:07…), oneDNN,
# torchao's failed kernel loads, XNNPACK's delegate line, coremltools' tqdm bars
NATIVE = re.compile(r"^[IWEF]\d{4} |absl::|oneDNN|torchao|XNNPACK|Converting PyTorch Frontend|"
                    r"Running MIL|passes/s|ops/s", re.M)


@pytest.fixture(scope="module")
def model_pth(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "model.pth"
    save_model(get_model("onnxruntime-cpu", 0.2, "tiny", verify=False, progress=False), path)
    return path


def export(model_pth, out, formats, *flags):
    res = subprocess.run([*CLI, *flags, "export", str(model_pth), "-f", formats, "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_tflite_and_coreml_export_print_only_our_step_lines(model_pth, tmp_path):
    res = export(model_pth, tmp_path / "e", "tflite,mlpackage")
    assert "TFLite: export success ✅" in res.stdout and "CoreML: export success ✅" in res.stdout
    assert not NATIVE.findall(res.stdout + res.stderr), res.stdout + res.stderr
    assert res.stderr.strip() == "", res.stderr


def test_verbose_lets_the_native_lines_through(model_pth, tmp_path):
    res = export(model_pth, tmp_path / "e", "mlpackage", "--verbose")
    assert "CoreML: export success ✅" in res.stdout
    assert "Running MIL" in res.stderr   # coremltools' own progress bars


def test_the_library_only_logs_and_never_configures_logging():
    # a script using the Python API: our logger has only its NullHandler, the root logger is untouched,
    # and a whole get_model + export prints nothing (the CLI is what configures output)
    code = ("import logging, ofa_deploy\n"
            "m = ofa_deploy.get_model('onnxruntime-cpu', 0.2, 'tiny', verify=False, progress=False)\n"
            "ofa_deploy.export(m, 'onnx', __import__('sys').argv[1])\n"
            "lg = logging.getLogger('ofa_deploy')\n"
            "print([type(h).__name__ for h in lg.handlers], logging.getLogger().handlers, lg.level)\n")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run([sys.executable, "-c", code, tmp], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == "['NullHandler'] [] 0" and res.stderr.strip() == "", res.stdout + res.stderr


def test_get_and_benchmark_print_no_native_lines(tmp_path):
    for args in (["get", "--device", "ort", "--supernet", "tiny", "--latency", "0.2", "--export", "openvino",
                  "--no-verify", "--out", str(tmp_path / "g")],
                 ["benchmark", str(tmp_path / "g" / "model.pth"), "--backends", "tflite", "--runs", "5",
                  "--warmup", "1"]):
        res = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        assert not NATIVE.findall(res.stdout + res.stderr) and res.stderr.strip() == "", res.stdout + res.stderr
