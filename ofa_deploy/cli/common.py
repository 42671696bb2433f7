"""Output helpers shared by the CLI verbs: rich tables for people, JSON for scripts."""
from __future__ import annotations

import json
from typing import Any, Sequence


def console():
    from rich.console import Console

    return Console(width=160)


# where --json documents go: main() points stdout at stderr while a --json command runs, so log
# lines and progress never corrupt the document a script parses
json_stream = None


def print_json(obj: Any) -> None:
    import sys

    print(json.dumps(obj, indent=2, default=str), file=json_stream or sys.stdout)


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
