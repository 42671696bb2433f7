"""The official OFA latency-table format: one YAML file per resolution, `{res}_lookup_table.yaml`,
mapping an op key to `{count, mean, std}` in milliseconds (older files carry `var`). We may add
fields (median, p90, …) to an entry; the official reader ignores them. We read `median` when it is
there (authoritative: robust to noise) and `mean` otherwise — so editing a table by hand means
editing `median` where an entry has one."""
from __future__ import annotations

import math
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


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: tables load fast


class _TableLoader(_Base):
    """Safe YAML loader that refuses duplicate keys and remembers each top-level key's line."""

    def __init__(self, stream):
        super().__init__(stream)
        self.key_lines: dict[str, int] = {}

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        top = not self.key_lines and node is getattr(self, "_root", None)
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise TableFormatError(f"line {line}: duplicate key {key!r} (first at line {seen[key]}); keep one "
                                       f"entry per op")
            seen[key] = line
        if top:
            self.key_lines = {str(k): v for k, v in seen.items()}
        return super().construct_mapping(node, deep)

    def construct_document(self, node):
        self._root = node
        return super().construct_document(node)


def _bad(path: Path, line: Any, msg: str) -> TableFormatError:
    return TableFormatError(f"{path}: line {line}: {msg}; fix the entry or rebuild the table with "
                            f"`ofa-deploy lut build`")


def read_table_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read one resolution's table; errors name the file, the line and the key.

    `median` is authoritative when an entry has it (our builder records it: robust to noise);
    `mean` is the official field, read when there is no median. Both must be finite and ≥ 0,
    and a mean of exactly 0 (a cut-off last entry) is refused: no op runs in zero time."""
    path = Path(path)
    if not path.is_file():
        raise TableFormatError(f"{path}: no such table file; build it with `ofa-deploy lut build`")
    text = path.read_text(errors="replace")
    loader = _TableLoader(text)
    try:
        data = loader.get_single_data()
    except TableFormatError as exc:
        raise TableFormatError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        raise TableFormatError(f"{path}: {where}: not valid YAML ({getattr(exc, 'problem', exc)}); the file is "
                               f"truncated or was edited by hand — rebuild it with `ofa-deploy lut build`") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict) or not data:
        raise TableFormatError(f"{path}: expected a mapping of op keys to {{count, mean, std}}, got "
                               f"{type(data).__name__}; rebuild it with `ofa-deploy lut build`")
    lines = loader.key_lines
    for key, entry in data.items():
        line = lines.get(str(key), "?")
        if not isinstance(entry, dict) or any(f not in entry for f in REQUIRED):
            raise _bad(path, line, f"entry {key!r} lacks 'mean' (expected {{count, mean, std}}); the file may be "
                                   f"truncated")
        for field in ("mean", "median", "std", "var", "count"):
            if field not in entry:
                continue
            v = entry[field]
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
            if not ok:
                raise _bad(path, line, f"entry {key!r} has {field} {v!r}, expected a finite non-negative number"
                                       f"{' of milliseconds' if field in ('mean', 'median') else ''}")
        if entry_ms(entry) == 0:
            field = "median" if "median" in entry else "mean"
            raise _bad(path, line, f"entry {key!r} has {field} 0 ms (a cut-off entry, e.g. a truncated file: "
                                   f"no op runs in zero time)")
        if "std" not in entry and "var" in entry:
            entry["std"] = float(entry["var"]) ** 0.5
    (last_key, last), first = list(data.items())[-1], next(iter(data.values()))
    cut = sorted(set(first) - set(last))
    if cut:   # a file cut at a line boundary still parses: its last entry is short of fields
        raise _bad(path, lines.get(str(last_key), "?"), f"the last entry {last_key!r} lacks {cut}, which the other "
                   "entries have: the file was cut off (a truncated copy or download); rebuild it with "
                   "`ofa-deploy lut build` (it resumes) or copy it again")
    return data


def entry_ms(entry: dict[str, Any]) -> float:
    """An entry's latency in ms: the median when recorded (authoritative), else the official mean."""
    return float(entry["median"] if "median" in entry else entry["mean"])


def write_table_file(path: str | Path, entries: dict[str, dict[str, Any]]) -> Path:
    """Write one resolution's table atomically, keys sorted, official fields first."""
    ordered = {k: {**{f: entries[k][f] for f in ("count", "mean", "std") if f in entries[k]},
                   **{f: v for f, v in entries[k].items() if f not in ("count", "mean", "std")}}
               for k in sorted(entries)}
    return atomic_write_text(path, yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False))


def read_table_folder(folder: str | Path) -> dict[int, dict[str, dict[str, Any]]]:
    folder = Path(folder)
    if not folder.exists():
        raise TableFormatError(f"{folder}: no such latency-table folder; pass a folder holding "
                               f"'<res>_lookup_table.yaml' files, a shipped table name, or build one with "
                               f"`ofa-deploy lut build --out {folder}`")
    if not folder.is_dir():
        raise TableFormatError(f"{folder} is a file, not a latency-table folder; pass the folder that holds "
                               f"it ({folder.parent})")
    res = table_resolutions(folder)
    if not res:
        raise TableFormatError(f"{folder}: no '<res>_lookup_table.yaml' files; build a table with "
                               f"`ofa-deploy lut build` or point at a folder holding one")
    return {r: read_table_file(table_file(folder, r)) for r in res}
