"""Backend discovery through entry points: our plugins, a third-party one, a missing runtime."""
import subprocess
import sys
import textwrap

from ofa_deploy import list_backends

PLUGIN = '''
"""A third-party backend: TorchScript files, run and timed with torch itself."""
from pathlib import Path
import torch
from ofa_deploy.deploy.base import Artifact
from ofa_deploy.deploy.plugin import BackendBase
from ofa_deploy.deploy.timing import time_callable

class TorchScriptBackend(BackendBase):
    name, formats, modules, packages = "torchscript", ("torchscript",), ("torch",), ("torch",)
    def export(self, model, example_input, out_dir, precision="fp32", name="model", **kw):
        path = Path(out_dir) / f"{name}.pt"
        torch.jit.trace(model, example_input).save(str(path))
        return Artifact(path, self.name, "torchscript", precision, tuple(example_input.shape))
    def run(self, artifact, inputs):
        return torch.jit.load(str(artifact.path))(torch.from_numpy(inputs)).detach().numpy()
    def measure(self, artifact, settings):
        m, x = torch.jit.load(str(artifact.path)), torch.zeros(artifact.input_shape)
        return time_callable(lambda: m(x), settings, "torchscript")

backend = TorchScriptBackend()
'''


def test_our_backends_are_listed_with_install_commands():
    infos = {b.name: b for b in list_backends()}
    assert {"onnxruntime", "openvino", "tflite", "coreml", "tvm", "accel"} <= set(infos)
    assert infos["openvino"].install == "pip install 'ofa-deploy[openvino]'"
    assert infos["onnxruntime"].available and "onnxruntime" in infos["onnxruntime"].versions


def test_third_party_plugin_registers_through_entry_points(tmp_path):
    (tmp_path / "toy_backend.py").write_text(PLUGIN)
    dist = tmp_path / "toy_backend-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-backend\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ofa_deploy.backends]\ntorchscript = toy_backend:backend\n")
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        import torch, ofa_deploy
        assert "torchscript" in [b.name for b in ofa_deploy.list_backends()]
        net = ofa_deploy.get_supernet("tiny").get_active_subnet().eval()
        art = ofa_deploy.export(net, "torchscript", {str(tmp_path / 'out')!r}, example_input=torch.randn(1, 1, 28, 28))
        res = ofa_deploy.benchmark(net, backends=["torchscript"], example_input=torch.randn(1, 1, 28, 28),
                                   out_dir={str(tmp_path / 'bench')!r}, progress=False)
        print(res.rows[0].status, art.card["parity"]["max_abs_diff"])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    status, diff = out.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert status == "✅" and float(diff) <= 1e-4


def test_missing_runtime_names_the_install_command():
    script = ("import sys; sys.modules['openvino'] = None\n"
              "from ofa_deploy.deploy import get_backend\n"
              "get_backend('openvino')\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ofa_deploy.errors.BackendUnavailableError") and "pip install 'ofa-deploy[openvino]'" in last
