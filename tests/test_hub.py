"""The hub against a real HTTP server on 127.0.0.1."""
import hashlib

import pytest
import torch

from ofa_deploy import get_supernet, hub
from ofa_deploy.errors import ChecksumError, WeightsUnavailableError
from ofa_deploy.registry import Asset
from tests.helpers.http_server import FileServer


@pytest.fixture
def served(tmp_path, monkeypatch):
    root, cache = tmp_path / "www", tmp_path / "cache"
    (root / "ofa").mkdir(parents=True)
    data = bytes(range(256)) * 400
    (root / "ofa" / "blob.bin").write_bytes(data)
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(cache))
    monkeypatch.delenv("OFA_DEPLOY_OFFLINE", raising=False)
    with FileServer(root) as srv:
        monkeypatch.setenv("OFA_DEPLOY_HUB_URL", srv.url)
        yield srv, root, cache, data


def test_download_then_cache_hit(served):
    srv, _, cache, data = served
    asset = Asset("blob", path="ofa/blob.bin", sha256=hashlib.sha256(data).hexdigest())
    path = hub.fetch(asset, progress=False)
    assert path.read_bytes() == data and path.parent == cache
    hub.fetch(asset, progress=False)
    assert srv.requests == ["/ofa/blob.bin"]  # the second fetch never asked the server


def test_interrupted_download_leaves_nothing(served):
    srv, _, cache, _ = served
    srv.truncate("ofa/blob.bin", 1000)
    with pytest.raises(WeightsUnavailableError, match="download failed"):
        hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)
    assert not any(p.name.startswith("ofa__blob") or p.suffix == ".part" for p in cache.glob("*"))


def test_corrupt_download_fails_checksum_and_is_not_cached(served):
    _, _, cache, _ = served
    with pytest.raises(ChecksumError, match="nothing was cached"):
        hub.fetch(Asset("blob", path="ofa/blob.bin", sha256="0" * 64), progress=False)
    assert not (cache / "ofa__blob.bin").exists()


def test_tampered_cache_file_fails_on_next_load(served):
    hub_file = hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)  # sha256 recorded on first use
    hub_file.write_bytes(hub_file.read_bytes()[:-10])
    with pytest.raises(ChecksumError, match="delete it and fetch again"):
        hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)


def test_offline_with_empty_cache_says_where_to_put_the_file(served, monkeypatch):
    monkeypatch.setenv("OFA_DEPLOY_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as err:
        hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)
    msg = str(err.value)
    assert "offline" in msg and "ofa__blob.bin" in msg and "ofa_tiny_d123_e346_k357" in msg


def test_unreachable_host(tmp_path, monkeypatch):
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path))
    monkeypatch.setenv("OFA_DEPLOY_HUB_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(WeightsUnavailableError, match="save it as"):
        hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)


def test_official_format_checkpoint_loads_pretrained(served):
    """A supernet checkpoint in the official format, served as the official path, loads strictly."""
    _, root, _, _ = served
    src = get_supernet("ofa_mbv3_w1.0")
    with torch.no_grad():
        for p in src.parameters():
            p.add_(0.01)
    (root / "ofa" / "ofa_nets").mkdir()
    torch.save({"state_dict": src.state_dict(), "epoch": 1}, root / "ofa" / "ofa_nets" / "ofa_mbv3_d234_e346_k357_w1.0")
    net = get_supernet("ofa_mbv3_w1.0", pretrained=True)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(net(x), src.eval()(x))
