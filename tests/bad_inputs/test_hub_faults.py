"""Hub faults against a real HTTP server on 127.0.0.1: a cut-off body without Content-Length, a
mirror serving other bytes after the cache was emptied, a bad hub URL, a corrupt manifest."""
import hashlib
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ofa_deploy import hub
from ofa_deploy.errors import BadArgumentError, ChecksumError, FileFormatError
from ofa_deploy.registry import Asset
from tests.helpers.http_server import FileServer

DATA = bytes(range(256)) * 400


class _NoLengthHandler(SimpleHTTPRequestHandler):
    """Sends the first `cut` bytes with no Content-Length, then closes (HTTP/1.0 read-to-close)."""

    cut = 1000

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body[: self.cut])
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def www(tmp_path, monkeypatch):
    root, cache = tmp_path / "www", tmp_path / "cache"
    (root / "ofa").mkdir(parents=True)
    (root / "ofa" / "blob.bin").write_bytes(DATA)
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(cache))
    monkeypatch.delenv("OFA_DEPLOY_OFFLINE", raising=False)
    return root, cache


@pytest.fixture
def no_length_server(www, monkeypatch):
    root, cache = www
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_NoLengthHandler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("OFA_DEPLOY_HUB_URL", f"http://127.0.0.1:{httpd.server_address[1]}")
    yield cache
    httpd.shutdown()
    httpd.server_close()


def _manifest(cache):
    p = cache / "manifest.json"
    return json.loads(p.read_text()) if p.exists() else {}


def test_body_cut_without_content_length_and_no_sha_is_not_trusted(no_length_server):
    cache = no_length_server
    with pytest.raises(ChecksumError, match="without a Content-Length"):
        hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)
    assert not (cache / "ofa__blob.bin").exists() and "ofa__blob.bin" not in _manifest(cache)


def test_body_cut_without_content_length_fails_the_size_check(no_length_server):
    cache = no_length_server
    with pytest.raises(ChecksumError, match="1000 bytes.*published size is 102400"):
        hub.fetch(Asset("blob", path="ofa/blob.bin", size=len(DATA)), progress=False)
    assert not any(cache.glob("*blob*")) and "ofa__blob.bin" not in _manifest(cache)


def test_body_cut_without_content_length_fails_the_sha256_check(no_length_server):
    cache = no_length_server
    with pytest.raises(ChecksumError, match="nothing was cached"):
        hub.fetch(Asset("blob", path="ofa/blob.bin", sha256=hashlib.sha256(DATA).hexdigest()), progress=False)
    assert not any(cache.glob("*blob*"))


def test_mirror_serving_other_bytes_after_cache_delete_keeps_recorded_sha(www, monkeypatch):
    root, cache = www
    with FileServer(root) as srv:
        monkeypatch.setenv("OFA_DEPLOY_HUB_URL", srv.url)
        path = hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)  # trusted on first use
        recorded = _manifest(cache)["ofa__blob.bin"]
        path.unlink()
        (root / "ofa" / "blob.bin").write_bytes(DATA[::-1])                    # the mirror changed
        with pytest.raises(ChecksumError, match="recorded at its first download"):
            hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)
    assert _manifest(cache)["ofa__blob.bin"] == recorded and not path.exists()


def test_mirror_serving_the_same_bytes_after_cache_delete_is_fine(www, monkeypatch):
    root, cache = www
    with FileServer(root) as srv:
        monkeypatch.setenv("OFA_DEPLOY_HUB_URL", srv.url)
        path = hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)
        path.unlink()
        assert hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False).read_bytes() == DATA


@pytest.mark.parametrize("url", ["not a url", "ftp://host/x", "http://", "127.0.0.1:8000"])
def test_hub_url_that_is_not_a_url(www, monkeypatch, url):
    monkeypatch.setenv("OFA_DEPLOY_HUB_URL", url)
    with pytest.raises(BadArgumentError, match="OFA_DEPLOY_HUB_URL.*is not a URL"):
        hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"ofa__blob.bin": 5}', ""])
def test_corrupt_manifest_json_names_the_file(www, monkeypatch, text):
    _, cache = www
    cache.mkdir(parents=True)
    (cache / "manifest.json").write_text(text)
    monkeypatch.setenv("OFA_DEPLOY_HUB_URL", "http://127.0.0.1:9")
    with pytest.raises(FileFormatError, match="manifest.json is corrupt"):
        hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)


def test_cache_folder_that_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("x")
    monkeypatch.setenv("OFA_DEPLOY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OFA_DEPLOY_HUB_URL", "http://127.0.0.1:9")
    with pytest.raises(BadArgumentError, match="is a file, not a folder"):
        hub.fetch(Asset("blob", path="ofa/blob.bin"), progress=False)
