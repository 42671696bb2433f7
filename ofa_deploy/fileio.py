"""Atomic writes and checksums: every file we write appears whole or not at all."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask is racy in threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def check_dir_path(folder: str | os.PathLike, what: str = "output folder", param: str | None = None) -> Path:
    """Check, without creating anything, that `folder` can be made: no part of its path is a file.
    The error names the part that is a file (and `param=` when given, so the CLI names its flag)."""
    from .errors import BadArgumentError

    folder = Path(folder)
    for p in (folder, *folder.parents):
        if p.exists() and not p.is_dir():
            raise BadArgumentError(f"cannot write the {what} {folder}: {p} is a file, not a folder; choose "
                                   f"another {f'{param}= ' if param else ''}path or remove that file", param)
    return folder


def make_dirs(folder: str | os.PathLike, what: str = "output folder") -> Path:
    """mkdir -p with an error that says which part of the path is a file instead of a folder."""
    folder = check_dir_path(folder, what)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, else delete it.
    The result gets the mode a plain open() would give (0666 less the umask; 0644 under 022),
    not mkstemp's private 0600."""
    path = Path(path)
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.is_dir():  # some exporters write a folder (a SavedModel, an .mlpackage)
            os.chmod(tmp, 0o777 & ~current_umask())
        else:
            with open(tmp, "rb+") as f:  # flush to disk before the rename makes it visible
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def append_jsonl(path: str | os.PathLike, rec: Any) -> None:
    """Append one JSON record as a line, flushed and fsync'd. A file that ends in a torn line (a kill
    mid-write) gets a newline first, so the new record is never glued onto the fragment."""
    path = Path(path)
    make_dirs(path.parent, "journal folder")
    with open(path, "ab+") as f:
        f.seek(0, os.SEEK_END)
        torn = False
        if f.tell():
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        f.write((b"\n" if torn else b"") + (json.dumps(rec) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """The whole records of a journal; torn or garbled lines (from a kill mid-write) are skipped."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def load_torch_file(path: str | os.PathLike, what: str, fix: str) -> Any:
    """torch.load(weights_only=True) with errors that name the file, say what it should be (`what`)
    and how to get a good one (`fix`); a pickle that would run code stays refused. Never suggests
    weights_only=False."""
    import torch

    from .errors import FileFormatError

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file (expected {what}); {fix}")
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path} is empty (0 bytes), not {what}; {fix}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        text = str(exc)
        if "Unsupported global" in text or "GLOBAL" in text:
            raise FileFormatError(f"{path} holds pickled Python objects that could run code when loaded, so it "
                                  f"was refused (it should be {what}, plain tensors); {fix}") from None
        detail = "truncated" if "zip archive" in text or "EOF" in text or "central directory" in text \
            else "corrupt or not a PyTorch file"
        raise FileFormatError(f"{path} is {detail} ({path.stat().st_size} bytes), not {what}; {fix}") from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_size_mb(path: str | os.PathLike) -> float:
    """Size of a file, or of all files under a folder, in MB."""
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 1e6
    return p.stat().st_size / 1e6
