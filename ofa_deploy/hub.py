"""Download, checksum, cache: the only module that touches the network.

An asset (`registry.Asset`) is fetched from `$OFA_DEPLOY_HUB_URL/<asset.path>` (default: the
official file host) into `$OFA_DEPLOY_CACHE` (default: the platform's user cache folder) through
pooch, which writes to a temporary file and moves it into place only when complete. Assets with
a published sha256 are checked against it; the official files publish none, so their sha256 is
recorded at first download (trust on first use, in `manifest.json`) and every later load checks
the cached file against it — a file truncated or edited in the cache fails loudly. Files shipped
inside the package (`asset.package_file`) are checked against their recorded sha256 too.
`OFA_DEPLOY_OFFLINE=1` forbids downloads."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .errors import ChecksumError, WeightsUnavailableError
from .fileio import atomic_write_json, sha256_file
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
    return os.environ.get("OFA_DEPLOY_HUB_URL", HUB_BASE).rstrip("/")


def is_offline() -> bool:
    return os.environ.get("OFA_DEPLOY_OFFLINE", "").lower() in ("1", "true", "yes")


def _manifest_path(root: Path) -> Path:
    return root / "manifest.json"


def _manifest(root: Path) -> dict[str, str]:
    p = _manifest_path(root)
    return json.loads(p.read_text()) if p.exists() else {}


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
    _download(asset, url, root, progress)
    actual = _check(target, asset.sha256, asset.name)
    _record(root, asset.filename, actual)
    return target


def _download(asset: Asset, url: str, root: Path, progress: bool) -> None:
    import pooch
    import requests

    pooch.get_logger().setLevel(logging.WARNING)
    root.mkdir(parents=True, exist_ok=True)
    try:
        pooch.retrieve(url, known_hash=f"sha256:{asset.sha256}" if asset.sha256 else None, fname=asset.filename,
                       path=root, progressbar=progress)
    except ValueError as exc:  # pooch's checksum mismatch; it has already removed the download
        raise ChecksumError(f"{asset.name}: the file downloaded from {url} does not match its sha256 "
                            f"({exc}); nothing was cached — try again, or report a changed upstream file") from exc
    except (requests.RequestException, OSError) as exc:
        raise WeightsUnavailableError(_missing_message(asset, url, root / asset.filename, f"download failed: {exc}")) \
            from exc


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
