"""Output helpers shared by the CLI verbs: rich tables for people, JSON for scripts."""
from __future__ import annotations

import json
import re
from typing import Any, Iterable, Sequence


# Python spellings in library messages whose CLI flag is not simply --name-with-dashes
FLAG_SPELLING = {"pretrained=False": "--no-pretrained", "pretrained=True": "--pretrained",
                 "calibration=": "--calib-data", "calib_data=": "--calib-data", "latency_table=": "--latency-table",
                 "validate=False": "--no-validate", "verify=False": "--no-verify", "formats=": "--format",
                 "backends=": "--backends", "serials=": "--serial", "weights_only=False": "weights_only=False"}
_PARAM = re.compile(r"\b([a-z][a-z0-9_]*)=(False|True|<[^>]*>|\[[^\]]*\]|[^\s,;)]*)")


def cli_spelling(message: str, options: Iterable[str]) -> str:
    """Rewrite the Python parameters a library message names (`pass pretrained=False`, `resolutions=`,
    `latency=<ms> (or pareto=)`) into this verb's flags; a parameter the verb has no flag for is
    dropped from an "(or x=)" aside and otherwise left as written."""
    opts = set(options)

    def flag_for(name: str, value: str) -> str | None:
        for py, flag in FLAG_SPELLING.items():
            if py == f"{name}={value}" or py == f"{name}=":
                return flag if flag in opts else None
        dashed = "--" + name.replace("_", "-")
        return dashed if dashed in opts else (f"-{name}" if f"-{name}" in opts else None)   # e.g. lut's -n

    def aside(m: re.Match) -> str:
        return m.group(0) if flag_for(m.group(1), "") else ""

    message = re.sub(r"\s*\(or ([a-z_]+)=\)", aside, message)

    def sub(m: re.Match) -> str:
        name, value = m.group(1), m.group(2)
        flag = flag_for(name, value)
        if flag is None:
            return m.group(0)
        if value in ("False", "True") and f"{name}={value}" in FLAG_SPELLING:
            return flag
        value = value.strip("[]").replace(", ", " ").replace(",", " ") if value.startswith("[") else value
        return f"{flag} {value}" if value else flag

    return _PARAM.sub(sub, message)


def console():
    from rich.console import Console

    return Console(width=160)


def add_json_flag(p) -> None:
    """--json, the same on every verb: one machine-readable document on stdout, logs on stderr."""
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout (logs go to stderr)")


def comma_list(text: str | None) -> list[str]:
    """'a, b,c' → ['a', 'b', 'c']: every list-valued flag takes commas."""
    return [t.strip() for t in str(text or "").split(",") if t.strip()]


def number_list(values, cast, flag: str):
    """Numbers from a flag given as spaces and/or commas ('160 176', '160,176'); None stays None."""
    if values is None:
        return None
    from ..errors import BadArgumentError

    words = [w for v in values for w in comma_list(v)]
    try:
        return [cast(w) for w in words]
    except ValueError:
        raise BadArgumentError(f"{flag} takes {cast.__name__} values separated by spaces or commas, "
                               f"not {' '.join(values)!r}") from None


def run_dir(path, exist_ok: bool = False):
    """Where a run writes: `path` when it is new or empty (or exist_ok), else the first free
    numbered sibling (runs/exp → runs/exp2, exp3 …, front.json → front2.json), never a silent
    overwrite of a previous run. Says so when it picks another name."""
    from itertools import count
    from pathlib import Path

    from ..log import LOGGER

    path = Path(path)
    if exist_ok or not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return path
    suffix = path.suffix if path.is_file() else ""
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    sep = "-" if stem[-1:].isdigit() else ""   # g1 → g1-2, not g12
    new = next(c for n in count(2) if not (c := path.with_name(f"{stem}{sep}{n}{suffix}")).exists())
    LOGGER.info(f"ℹ️  {path} holds a previous run; writing to {new} (--exist-ok to reuse {path})")
    return new


def add_out_flag(p, default, what: str) -> None:
    """--out and --exist-ok, the same on every verb that writes."""
    p.add_argument("--out", type=__import__("pathlib").Path, default=default,
                   help=f"{what}; an existing non-empty one gets a numbered sibling (out2, out3 …)")
    p.add_argument("--exist-ok", action="store_true", help="write into an existing --out instead of numbering")


# what a dry run (random weights, --no-pretrained) says in the log and in every table title
DRY_LINE = "⚠️  DRY RUN: random weights (--no-pretrained); the model and its exports predict nothing"
DRY_TITLE = " — DRY RUN, random weights (--no-pretrained)"


def say_dry_run(model) -> bool:
    """Log the dry-run line when `model` carries random weights; return whether it does."""
    dry = bool(model.card.get("dry_run"))
    if dry:
        from ..log import LOGGER

        LOGGER.info(DRY_LINE)
    return dry


# the one status vocabulary of every verb's JSON
STATUS = ("ok", "failed", "skipped", "estimated")


# where --json documents go: main() points stdout at stderr while a --json command runs, so log
# lines and progress never corrupt the document a script parses
json_stream = None


def overall_status(rows: Sequence[dict]) -> str:
    """The status of a document made of rows: failed if any row failed, estimated if every row
    is an estimate, else ok (skipped rows do not make a run fail)."""
    words = [r.get("status", "ok") for r in rows if isinstance(r, dict)]
    if not words or "failed" in words:
        return "failed"
    return "estimated" if all(w == "estimated" for w in words) else "ok"


def json_document(obj: Any, key: str = "rows") -> dict[str, Any]:
    """What --json prints: always one object whose first key is `status` (one of STATUS); a list
    of rows goes under `key` with the overall status of its rows."""
    if isinstance(obj, (list, tuple)):
        obj = {"status": overall_status(obj), key: list(obj)}
    else:
        obj = dict(obj)
        obj = {"status": obj.pop("status", "ok"), **obj}
    if obj["status"] not in STATUS:
        raise ValueError(f"JSON status {obj['status']!r} is not one of {STATUS}")
    return obj


def print_json(obj: Any, key: str = "rows") -> None:
    """Print one JSON object (see json_document) on the --json stream."""
    import sys

    print(json.dumps(json_document(obj, key), indent=2, default=str), file=json_stream or sys.stdout)


def print_kv(title: str, data: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=title, show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value")
    for k, v in data.items():
        t.add_row(str(k), json.dumps(v, default=str) if isinstance(v, (dict, list)) else
                  (f"{v:.4g}" if isinstance(v, float) else str(v)))
    console().print(t)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r])
    console().print(t)
