"""Reopening an exported artifact from a damaged sidecar names the file and the fix."""
import pytest

from ofa_deploy.deploy.base import Artifact
from ofa_deploy.errors import FileFormatError


@pytest.mark.parametrize("body", [b'{"path": "model.onnx", "backend": "onnx', b"\xff\xfe garbage", b""])
def test_corrupt_sidecar_json(tmp_path, body):
    (tmp_path / "model.onnx").write_bytes(b"not really onnx")
    (tmp_path / "model.onnx.json").write_bytes(body)
    with pytest.raises(FileFormatError, match=r"model\.onnx\.json is not valid JSON.*export the model again"):
        Artifact.load(tmp_path / "model.onnx")
