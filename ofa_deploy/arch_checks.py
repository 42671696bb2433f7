"""Arch validation and coercion: every check that an arch (or a batch of them, or a user's dict,
JSON text or printed short form) fits a search space, raising ArchError that names the gene, the
bad value and the allowed choices.

`ofa_deploy.arch` (ArchConfig, ArchBatch, SearchSpace) calls these; this module never imports it
(it works on anything with ks/e/d/w/r attributes), so there is no import cycle.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Sequence

import numpy as np

from .errors import ArchError

ARCH_KEYS = ("ks", "e", "d", "r", "w", "image_size")
JSON_HINT = '{"ks": [...], "e": [...], "d": [...], "r": 224}'
_SHORT = re.compile(r"r(?P<r>\d+)-d(?P<d>\d+)-k(?P<k>\d*)-e(?P<e>[\d._]+)(?:-w(?P<w>\d+))?")


# ---- single genes ------------------------------------------------------------------------
def as_genes(name: str, values: Any, integer: bool) -> tuple:
    """A gene vector as a tuple of numbers; strings, bools, NaN and (for int genes) fractions are refused
    instead of being truncated, so `ks=[3.7]*9` is an error and not a kernel of 3."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ArchError(f"arch gene {name!r} must be a list of numbers, got {type(values).__name__} {values!r}")
    return tuple(as_gene(f"{name}[{i}]", v, integer) for i, v in enumerate(values))


def as_gene(where: str, v: Any, integer: bool) -> int | float:
    """One gene value as an int (`integer`) or a number (an int when whole), else ArchError naming `where`."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ArchError(f"arch gene {where} = {v!r} is not a number ({type(v).__name__}); "
                        f"write it as {'an integer' if integer else 'a number'}")
    f = float(v)
    if not np.isfinite(f) or (integer and not f.is_integer()):
        raise ArchError(f"arch gene {where} = {v!r} is not {'a whole number' if integer else 'finite'}; "
                        f"genes take exact values from the space's choices")
    return int(f) if integer or f.is_integer() else f


def check_gene(space_name: str, name: str, values: Sequence, n: int, choices: Sequence, what: str) -> None:
    """Raise ArchError naming the gene, the bad value and the allowed choices (one place for both
    ArchConfig.validate and the supernets' set_active_subnet)."""
    if len(values) != n:
        raise ArchError(f"arch for {space_name}: {name} has {len(values)} values, expected {n} "
                        f"({what}); got {list(values)}")
    bad = [(i, v) for i, v in enumerate(values) if v not in choices]
    if bad:
        i, v = bad[0]
        raise ArchError(f"arch for {space_name}: {name}[{i}] = {v} is not in the space; "
                        f"allowed values are {list(choices)}")


def subnet_genes(net: str, name: str, value: Any, n: int, choices: Sequence, what: str) -> list:
    """A set_active_subnet argument (None, one value for all, or a list of n, items None or a choice)
    as a list of n, checked at once, so `set_active_subnet(ks=4)` fails here and not inside forward."""
    if value is None:
        return [None] * n
    if isinstance(value, (list, tuple, np.ndarray)):
        vals = list(value)
        if len(vals) != n:
            raise ArchError(f"{net}.set_active_subnet: {name} has {len(vals)} values, expected {n} ({what}) "
                            f"or one value for all; got {vals}")
    else:
        vals = [value] * n
    out = []
    for i, v in enumerate(vals):
        if v is not None:
            v = as_gene(f"{name}[{i}]", v, integer=False)
            if v not in choices:
                raise ArchError(f"{net}.set_active_subnet: {name}{f'[{i}]' if n > 1 else ''} = {v} is not a "
                                f"choice of this supernet; allowed values are {list(choices)}")
        out.append(v)
    return out


def check_resolutions(space, resolutions: Any, name: str = "resolutions") -> tuple[int, ...]:
    """User-given resolutions (a number or a list) as whole numbers on `space`'s grid, else ArchError
    naming `name`, the bad value and the grid."""
    if isinstance(resolutions, (int, float, np.integer, np.floating)) and not isinstance(resolutions, bool):
        resolutions = [resolutions]
    vals = as_genes(name, resolutions, integer=True)
    if not vals:
        raise ArchError(f"{name} is empty; give at least one of {space.grid_text()}")
    for v in vals:
        if not space.valid_resolution(v):
            raise ArchError(f"{name}={v}: {v} is not a resolution of {space.name}; use {space.grid_text()}")
    return vals


# ---- whole archs and batches ---------------------------------------------------------------
def _gene_specs(space, arch) -> list[tuple]:
    return [("ks", arch.ks, space.n_ks, space.ks_choices, "one per block"),
            ("e", arch.e, space.n_blocks, space.e_choices, "one per block"),
            ("d", arch.d, space.n_d, space.d_choices, "one per stage"),
            ("w", arch.w, space.n_w, space.w_choices, "one per width group")]


def validate_arch(arch, space) -> None:
    """Raise ArchError naming the first gene of `arch` that does not fit `space`."""
    for name, values, n, choices, what in _gene_specs(space, arch):
        check_gene(space.name, name, values, n, choices, what)
    if not space.valid_resolution(arch.r):
        raise ArchError(f"arch for {space.name}: resolution {arch.r} is outside the space; use {space.grid_text()}")


def validate_batch(batch) -> None:
    """Vectorized check of an ArchBatch: every gene one of the space's choices, every resolution on
    its grid; raises ArchError naming the first bad arch, gene and value."""
    sp, n_archs = batch.space, len(batch)
    for name, arr, n, choices, what in _gene_specs(sp, batch):
        arr = np.asarray(arr)
        if arr.ndim != 2 or arr.shape != (n_archs, n):
            raise ArchError(f"arch batch for {sp.name}: {name} has shape {arr.shape}, expected "
                            f"({n_archs}, {n}) ({what})")
        ok = np.isin(arr, np.asarray(choices, dtype=arr.dtype)) if n else np.ones(arr.shape, bool)
        if not ok.all():
            i, j = np.argwhere(~ok)[0]
            raise ArchError(f"arch {i} of the batch for {sp.name}: {name}[{j}] = {arr[i, j]:g} is not in "
                            f"the space; allowed values are {list(choices)}")
    r = np.asarray(batch.r)
    ok = (r >= sp.min_resolution) & (r <= sp.max_resolution) & ((r - sp.min_resolution) % sp.resolution_step == 0)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise ArchError(f"arch {i} of the batch for {sp.name}: resolution {r[i]} is outside the space; "
                        f"use {sp.grid_text()}")


def on_grid(space, resolutions: Sequence[int] | None) -> bool:
    """Whether resolutions a batch is drawn from are all valid (then the batch needs no check)."""
    return resolutions is None or all(space.valid_resolution(int(r)) and int(r) == r for r in resolutions)


# ---- user forms: dict, JSON text, short form -------------------------------------------------
def dict_fields(d: Any, r: int | None = None) -> dict[str, Any]:
    """ArchConfig's fields from our dict or the official one ({ks, e, d, r: [r]} or image_size, or
    without r when `r` is given); ArchError naming the unknown, missing or ambiguous key."""
    if not isinstance(d, Mapping):
        raise ArchError(f"an arch dict must be a mapping with keys ks, e, d, r, got {type(d).__name__}")
    unknown = sorted(set(d) - set(ARCH_KEYS))
    if unknown:
        raise ArchError(f"arch dict has unknown key(s) {unknown}; accepted keys are ks, e, d, r "
                        "(or image_size), w")
    missing = [k for k in ("e", "d") if k not in d]
    if missing:
        raise ArchError(f"arch dict lacks {missing}; expected keys ks, e, d, r (got {sorted(d)})")
    res = d.get("r", d.get("image_size", r))
    if isinstance(res, (list, tuple)):
        if len(res) > 1:
            raise ArchError(f"arch dict has {len(res)} resolutions {list(res)}; an arch has one: "
                            "give 'r' as an int or a one-element list")
        res = res[0] if res else None
    if res is None:
        raise ArchError("arch dict has no resolution: add 'r' (an int, or a one-element list as "
                        "the official code writes it)")
    return {"ks": as_genes("ks", d.get("ks", ()), True), "e": as_genes("e", d["e"], False),
            "d": as_genes("d", d["d"], True), "r": res, "w": as_genes("w", d.get("w", ()), True)}


def is_json_text(text: str) -> bool:
    """Whether arch text is JSON (an object) rather than the printed short form."""
    return text.strip().startswith(("{", "[", '"'))


def json_mapping(text: str) -> Mapping:
    """Arch JSON text as a mapping, else ArchError saying how to write it."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArchError(f"arch={text[:60]!r} is not JSON ({exc.msg}); write it as {JSON_HINT}") from None
    if not isinstance(obj, Mapping):
        raise ArchError(f"arch={text[:60]!r} is JSON but not an object; write it as {JSON_HINT}")
    return obj


def parse_short(text: str) -> dict[str, Any]:
    """ArchConfig's fields from the form `ArchConfig.short()` prints (r224-d234…-k357…-e346…[-w012];
    fractional expand ratios joined by '_')."""
    m = _SHORT.fullmatch(text.strip())
    if m is None:
        raise ArchError(f"arch={text[:60]!r} is neither the short form r<res>-d<depths>-k<kernels>-e<expands>"
                        f"[-w<widths>] (as printed, e.g. r28-d123-k357357357-e346346346) nor JSON {JSON_HINT}")
    digits = lambda g: tuple(int(c) for c in (m.group(g) or ""))  # noqa: E731
    e_txt = m.group("e")
    e = tuple(float(x) for x in e_txt.split("_")) if "_" in e_txt or "." in e_txt else digits("e")
    return {"ks": digits("k"), "e": e, "d": digits("d"), "r": int(m.group("r")), "w": digits("w")}


def short_form(arch) -> str:
    """The compact one-line form of an arch for logs and tables (parse_short reads it back)."""
    ks = "".join(map(str, arch.ks))
    whole = all(float(x).is_integer() and 0 <= x < 10 for x in arch.e)
    e = "".join(str(int(x)) for x in arch.e) if whole else "_".join(f"{x:g}" for x in arch.e)
    s = f"r{arch.r}-d{''.join(map(str, arch.d))}-k{ks}-e{e}"
    return s + (f"-w{''.join(map(str, arch.w))}" if arch.w else "")
