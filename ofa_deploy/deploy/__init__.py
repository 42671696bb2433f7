"""Backend discovery through the entry-point group `ofa_deploy.backends`.

Plugins load lazily: listing backends imports no runtime; asking for one whose runtime is
missing raises BackendUnavailableError with the install command."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

from ..errors import BackendUnavailableError, UnknownNameError
from .base import Artifact, Backend, LatencyStats, MeasureSettings  # noqa: F401  (re-exported)

GROUP = "ofa_deploy.backends"


@dataclass(frozen=True)
class BackendInfo:
    name: str
    available: bool
    formats: tuple[str, ...]
    precisions: tuple[str, ...]
    install: str
    versions: dict
    problem: str = ""
    measures: str = "here"     # "here", "estimate" (a latency model: accel) or why not ("macOS only")


def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@lru_cache(maxsize=None)
def _load(name: str) -> Backend:
    eps = _entry_points()
    if name not in eps:
        raise UnknownNameError("backend", name, eps, "Install a plugin that registers it under the "
                               f"entry-point group {GROUP!r}.")
    obj = eps[name].load()
    return obj() if isinstance(obj, type) else obj


def get_backend(name: str, check: bool = True) -> Backend:
    """The backend plugin registered as `name`; with `check`, fail now if its runtime is missing."""
    backend = _load(name)
    if check:
        backend.check()
    return backend


def list_backends() -> list[BackendInfo]:
    """Every registered backend and whether its runtime is installed here."""
    out = []
    for name in sorted(_entry_points()):
        try:
            b = _load(name)
        except Exception as exc:  # a broken third-party plugin must not hide the others
            out.append(BackendInfo(name, False, (), (), "", {}, f"plugin failed to load: {exc}"))
            continue
        try:
            b.check()
            ok, problem, versions = True, "", b.versions()
        except BackendUnavailableError as exc:
            ok, problem, versions = False, str(exc), {}
        out.append(BackendInfo(name, ok, tuple(b.formats), tuple(b.precisions), b.install, versions, problem,
                               getattr(b, "measures", "here")))
    return out


def backend_for_format(fmt: str) -> Backend:
    """The backend that produces artifact format `fmt` (e.g. 'onnx', 'tflite', 'mlpackage')."""
    fmt = fmt.lower().lstrip(".")
    known = {}
    for name in _entry_points():
        try:
            b = _load(name)
        except Exception:
            continue
        for f in (name, *b.formats):
            known.setdefault(f, b)
    if fmt not in known:
        raise UnknownNameError("export format", fmt, known)
    return known[fmt]
