"""Packaging: every package folder is installed, plugins are registered, the core stays
runtime-free, and the public API resolves."""
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNTIMES = ("onnxruntime", "openvino", "ai_edge_litert", "litert_torch", "coremltools", "tvm", "tensorflow")


def test_every_package_folder_is_listed_in_pyproject():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())
    listed = set(cfg["tool"]["setuptools"]["packages"])
    dirs = cfg["tool"]["setuptools"]["package-dir"]
    found = set()
    for pkg, folder in dirs.items():
        root = REPO / folder
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"


def test_our_backends_register_through_entry_points():
    names = {ep.name for ep in entry_points(group="ofa_deploy.backends")}
    assert {"onnxruntime", "openvino", "tflite", "coreml", "tvm", "accel"} <= names


def test_core_imports_no_runtime():
    code = ("import sys, ofa_deploy, ofa_deploy.supernets, ofa_deploy.registry, ofa_deploy.profile, "
            "ofa_deploy.deploy, ofa_deploy.cli; ofa_deploy.list_backends(); "
            f"print(sorted(m for m in {RUNTIMES!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_resolves():
    import ofa_deploy

    for name in ofa_deploy.__all__:
        assert getattr(ofa_deploy, name) is not None, name
