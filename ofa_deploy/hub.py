"""Download, checksum, cache: the only module that touches the network.

An asset (`registry.Asset`) is fetched from `$OFA_DEPLOY_HUB_URL/<asset.path>` (default: the
official file host) into `$OFA_DEPLOY_CACHE` (default: the platform's user cache folder), streamed
to a temporary file that becomes the cached file only when its size and sha256 check out. Assets with
a published sha256 are checked against it; the official files publish none, so their sha256 is
recorded at first download (trust on first use, in `manifest.json`) and every later load checks
the cached file against it — a file truncated or edited in the cache fails loudly. Files shipped
inside the package (`asset.package_file`) are checked against their recorded sha256 too.
`OFA_DEPLOY_OFFLINE=1` forbids downloads."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import BadArgumentError, ChecksumError, FileFormatError, WeightsUnavailableError
from .fileio import atomic_write_json, make_dirs, sha256_file
from .registry import ASSETS, HUB_BASE, Asset, SupernetRecord

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
EMBEDDED = "ofa_tiny_d123_e346_k357"


def cache_dir() -> Path:
    env = os.environ.get("OFA_DEPLOY_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ofa_deploy"))


def hub_url() -> str:
    """The hub base URL ($OFA_DEPLOY_HUB_URL or the official host), checked to be an http(s) URL."""
    from urllib.parse import urlparse

    url = os.environ.get("OFA_DEPLOY_HUB_URL", HUB_BASE).strip().rstrip("/")
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise BadArgumentError(f"OFA_DEPLOY_HUB_URL={url!r} is not a URL; set it to a mirror's base URL like "
                               f"https://host/path (or unset it for the official host {HUB_BASE})",
                               "OFA_DEPLOY_HUB_URL")
    return url


def is_offline() -> bool:
    return os.environ.get("OFA_DEPLOY_OFFLINE", "").lower() in ("1", "true", "yes")


def _manifest_path(root: Path) -> Path:
    return root / "manifest.json"


def _manifest(root: Path) -> dict[str, str]:
    p = _manifest_path(root)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        data = exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise FileFormatError(f"{p} is corrupt (the hub's record of trusted sha256 sums; "
                              f"{data if isinstance(data, Exception) else 'not a name → sha256 object'}); "
                              f"delete it together with the cached files in {root} and fetch them again")
    return data


def _check(path: Path, expected: str | None, what: str) -> str:
    actual = sha256_file(path)
    if expected and actual != expected:
        raise ChecksumError(f"{what}: {path} has sha256 {actual[:16]}…, expected {expected[:16]}…; the file is "
                            f"truncated or corrupt — delete it and fetch again")
    return actual


def fetch(asset: Asset | str, *, cache_dir: str | Path | None = None, offline: bool | None = None,
          progress: bool = True) -> Path:
    """The local path of `asset` (an Asset or a registry asset name), downloaded if needed."""
    asset = ASSETS.get(asset) if isinstance(asset, str) else asset
    if asset.package_file:
        path = PACKAGE_DATA / asset.package_file
        if not path.exists():
            raise WeightsUnavailableError(f"{asset.name}: package file {path} is missing; reinstall ofa-deploy "
                                          f"(it ships inside the package)")
        _check(path, asset.sha256, asset.name)
        return path
    root = Path(cache_dir) if cache_dir is not None else globals()["cache_dir"]()
    target = root / asset.filename
    manifest = _manifest(root)
    if target.exists():
        expected = asset.sha256 or manifest.get(asset.filename)
        actual = _check(target, expected, asset.name)
        if not expected:
            _record(root, asset.filename, actual)
        return target
    url = f"{hub_url()}/{asset.path}"
    if offline if offline is not None else is_offline():
        raise WeightsUnavailableError(_missing_message(asset, url, target, "offline mode is on"))
    # a sha256 recorded on first use stays the reference after the cached file is deleted: a mirror
    # serving other bytes is refused, never re-trusted
    _download(asset, url, root, progress, asset.sha256 or manifest.get(asset.filename))
    _record(root, asset.filename, sha256_file(target))
    return target


def _download(asset: Asset, url: str, root: Path, progress: bool, expected: str | None) -> None:
    """Stream `url` into the cache through a temporary file; it becomes the cached file only when its
    size and sha256 check out. Without a known sha256 or size the server must send Content-Length,
    else a cut-off body could not be told from a whole one and would be trusted."""
    import hashlib

    import requests

    from .fileio import atomic_path

    target = root / asset.filename
    make_dirs(root, "hub cache folder")

    def refuse(why: str) -> ChecksumError:
        return ChecksumError(f"{asset.name}: the file downloaded from {url} {why}; nothing was cached — try again, "
                             f"or report a changed upstream file")
    try:
        with requests.get(url, stream=True, timeout=60) as resp:
            resp.raise_for_status()
            promised = resp.headers.get("Content-Length")
            if promised is None and not expected and asset.size is None:
                raise refuse("came without a Content-Length and the asset has no published sha256 or size, so a "
                             "cut-off download cannot be detected (use a mirror that sends Content-Length)")
            h, n = hashlib.sha256(), 0
            with atomic_path(target) as tmp, open(tmp, "wb") as out:
                bar = _bar(progress, int(promised) if promised else asset.size, asset.name)
                for chunk in resp.iter_content(1 << 20):
                    out.write(chunk)
                    h.update(chunk)
                    n += len(chunk)
                    bar.update(len(chunk))
                bar.close()
                out.flush()
                for want, what in ((promised and int(promised), "Content-Length"), (asset.size, "published size")):
                    if want is not None and want is not False and n != int(want):
                        raise refuse(f"has {n} bytes, but its {what} is {want} (cut off)")
                if expected and h.hexdigest() != expected:
                    raise refuse(f"has sha256 {h.hexdigest()[:16]}…, expected {expected[:16]}… (recorded "
                                 f"{'in the registry' if asset.sha256 else 'at its first download'})")
    except (requests.RequestException, OSError) as exc:
        raise WeightsUnavailableError(_missing_message(asset, url, target, f"download failed: {exc}")) from exc


def _bar(progress: bool, total: int | None, name: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress, leave=False)


def _record(root: Path, filename: str, sha: str) -> None:
    manifest = _manifest(root)
    if manifest.get(filename) != sha:
        manifest[filename] = sha
        atomic_write_json(_manifest_path(root), manifest)


def _missing_message(asset: Asset, url: str, target: Path, why: str) -> str:
    return (f"{asset.name} is not available ({why}). Download {url} and save it as {target}, or set "
            f"OFA_DEPLOY_HUB_URL to a mirror. The embedded supernet '{EMBEDDED}' works offline.")


def fetch_weights(record: SupernetRecord, **kwargs) -> Path:
    """The checkpoint of a registry supernet."""
    if record.weights is None:
        raise WeightsUnavailableError(f"{record.name} has no registered weights; pass weights=<checkpoint path>. "
                                      f"The embedded supernet '{EMBEDDED}' works offline.")
    return fetch(record.weights, **kwargs)
