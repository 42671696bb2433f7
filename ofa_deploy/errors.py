"""Error types: each says what was wrong, what was expected, and what to do next."""
from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any


class OfaDeployError(Exception):
    """Base class of every error this library raises on purpose.

    Messages name Python parameters as `name=` (e.g. `pass pretrained=False`); the CLI's top-level
    handler rewrites those into its flags (`--no-pretrained`), so one message serves both."""


class BadArgumentError(OfaDeployError, ValueError):
    """An argument with a bad value (wrong type, NaN, out of range); `param` names it."""

    def __init__(self, message: str, param: str | None = None):
        self.param = param
        super().__init__(message)


class FileFormatError(OfaDeployError, ValueError):
    """A file we read (checkpoint, predictor, manifest, provenance) that is corrupt, empty, truncated
    or of the wrong kind; the message names the file, what it should be and how to get a good one."""


def check_number(name: str, value: Any, *, minimum: float | None = None, exclusive: bool = False,
                 integer: bool = False, unit: str = "") -> float | int:
    """`value` as a finite number (an int when `integer`), else BadArgumentError naming `name=`.
    `minimum` with `exclusive` means value > minimum, otherwise value ≥ minimum."""
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__") \
            or isinstance(value, (str, bytes)):
        raise BadArgumentError(f"{name}={value!r} is not {kind}{f' of {unit}' if unit else ''}; pass e.g. "
                               f"{name}={1 if integer else 1.5}", name)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise BadArgumentError(f"{name}={value!r} is not {kind}", name) from None
    if not math.isfinite(v) or (integer and not v.is_integer()):
        raise BadArgumentError(f"{name}={value!r} is not {'a finite' if not integer else 'a whole'} number; "
                               f"pass {kind}{f' of {unit}' if unit else ''}", name)
    if minimum is not None and (v <= minimum if exclusive else v < minimum):
        raise BadArgumentError(f"{name}={value!r} must be {'>' if exclusive else '≥'} {minimum:g}"
                               f"{f' {unit}' if unit else ''}", name)
    return int(v) if integer else v


class MissingFileError(OfaDeployError, FileNotFoundError):
    """A file or folder the user named (a checkpoint, predictor, artifact) that does not exist; the
    message names the path and what to pass instead."""


class DataNotFoundError(MissingFileError):
    """Training, calibration or benchmark data that is missing or empty (no class folders, no images);
    the message names the path, the layout expected and how to get the data."""


class UnknownNameError(OfaDeployError, LookupError):
    """A model, device, backend or table name that no registry record owns."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = ""):
        self.kind, self.name, self.known = kind, name, sorted(set(known))
        close = suggest(name, self.known)
        msg = f"unknown {kind} {name!r}"
        msg += f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "."
        msg += f" Known {kind}s: {', '.join(self.known[:30])}{' …' if len(self.known) > 30 else ''}."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return self.args[0]


class ArchError(OfaDeployError, ValueError):
    """An architecture that is not in the search space (wrong length, value out of range)."""


class InfeasibleError(OfaDeployError, ValueError):
    """A constraint no subnet of the space can meet; carries the smallest achievable value."""

    def __init__(self, message: str, smallest: float | None = None):
        self.smallest = smallest
        super().__init__(message)


class ChecksumError(OfaDeployError):
    """A file whose sha256 differs from the recorded one (corrupt or truncated)."""


class WeightsUnavailableError(OfaDeployError):
    """Weights (or another hub asset) that cannot be downloaded and are not in the cache."""


class BackendUnavailableError(OfaDeployError):
    """A backend whose runtime is not installed; the message carries the install command."""


class ValidationError(OfaDeployError):
    """An exported artifact whose outputs differ from the PyTorch model beyond tolerance."""


def suggest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for a mistyped name, case-insensitive, best first."""
    known = list(known)
    lower = {k.lower(): k for k in known}
    hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.6)
    subs = [k for k in known if name.lower() in k.lower() and k not in hits]
    return [lower[h] for h in hits] + subs[: max(0, n - len(hits))]
