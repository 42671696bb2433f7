"""The official OFA latency-table format: one YAML file per resolution, `{res}_lookup_table.yaml`,
mapping an op key to `{count, mean, std}` in milliseconds (older files carry `var`). We may add
fields (median, p90, …) to an entry; the official reader ignores them, and so do we."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import OfaDeployError
from ..fileio import atomic_write_text

FILE_RE = re.compile(r"^(\d+)_lookup_table\.yaml$")
REQUIRED = ("mean",)


class TableFormatError(OfaDeployError, ValueError):
    """A latency-table file that is not valid YAML or not in the official layout."""


def table_file(folder: str | Path, resolution: int) -> Path:
    return Path(folder) / f"{resolution}_lookup_table.yaml"


def table_resolutions(folder: str | Path) -> list[int]:
    """Resolutions with a table file in `folder`."""
    return sorted(int(m.group(1)) for f in Path(folder).iterdir() if (m := FILE_RE.match(f.name)))


def read_table_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read one resolution's table; errors name the file and the line."""
    path = Path(path)
    text = path.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        raise TableFormatError(f"{path}: {where}: not valid YAML ({getattr(exc, 'problem', exc)}); the file is "
                               f"truncated or was edited by hand — rebuild it with `ofa-deploy lut build`") from None
    if not isinstance(data, dict) or not data:
        raise TableFormatError(f"{path}: expected a mapping of op keys to {{count, mean, std}}, got "
                               f"{type(data).__name__}; rebuild it with `ofa-deploy lut build`")
    root = yaml.compose(text)
    lines = {str(k.value): k.start_mark.line + 1 for k, _ in getattr(root, "value", [])}
    for key, entry in data.items():
        if not isinstance(entry, dict) or any(f not in entry for f in REQUIRED):
            raise TableFormatError(f"{path}: line {lines.get(str(key), '?')}: entry {key!r} lacks 'mean' "
                                   f"(expected {{count, mean, std}})")
        try:
            if float(entry["mean"]) < 0:
                raise ValueError
        except (TypeError, ValueError):
            raise TableFormatError(f"{path}: line {lines.get(str(key), '?')}: entry {key!r} has mean "
                                   f"{entry['mean']!r}, expected a non-negative number of milliseconds") from None
        if "std" not in entry and "var" in entry:
            entry["std"] = float(entry["var"]) ** 0.5
    return data


def write_table_file(path: str | Path, entries: dict[str, dict[str, Any]]) -> Path:
    """Write one resolution's table atomically, keys sorted, official fields first."""
    ordered = {k: {**{f: entries[k][f] for f in ("count", "mean", "std") if f in entries[k]},
                   **{f: v for f, v in entries[k].items() if f not in ("count", "mean", "std")}}
               for k in sorted(entries)}
    return atomic_write_text(path, yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False))


def read_table_folder(folder: str | Path) -> dict[int, dict[str, dict[str, Any]]]:
    folder = Path(folder)
    res = table_resolutions(folder) if folder.is_dir() else []
    if not res:
        raise TableFormatError(f"{folder}: no '<res>_lookup_table.yaml' files; build a table with "
                               f"`ofa-deploy lut build` or point at a folder holding one")
    return {r: read_table_file(table_file(folder, r)) for r in res}
