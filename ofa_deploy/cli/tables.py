"""`ofa-deploy lut list`: every shipped latency table with its coverage (supernet, resolutions,
latency range of the space, source, host). The subparser sits in cli/lut.py."""
from __future__ import annotations

import json
import re

from .common import print_json, print_table


def table_listing(pattern: str = "*") -> list[dict]:
    """One record per shipped table matching `pattern` ('<supernet>/<device>', wildcards)."""
    import fnmatch

    from ..latency.sources import list_shipped_tables, load_latency_table, shipped_tables_root
    from ..registry import get_supernet_record

    rows = []
    for name in list_shipped_tables():
        if not fnmatch.fnmatch(name.lower(), pattern.lower()):
            continue
        folder = shipped_tables_root() / name
        prov = json.loads((folder / "provenance.json").read_text())
        space = get_supernet_record(name.split("/")[0]).space
        res = sorted(int(m.group(1)) for p in folder.glob("*_lookup_table.yaml")
                     if (m := re.match(r"(\d+)_", p.name)))
        table = load_latency_table(folder)
        lo, hi = (float(table.predict(space.smallest(res[0]))), float(table.predict(space.largest(res[-1])))) \
            if res else (None, None)
        rows.append({"table": name, "supernet": name.split("/")[0], "device": prov.get("device"),
                     "backend": prov.get("backend"), "resolutions": res, "min_ms": lo, "max_ms": hi,
                     "source": getattr(table, "source", "measured"), "host": prov.get("host"),
                     "cpu_count": prov.get("cpu_count"), "date": prov.get("date"),
                     "runtime_version": prov.get("runtime_version")})
    return rows


def lut_list(args) -> int:
    rows = table_listing(args.pattern)
    if args.json:
        print_json(rows, "tables")
    else:
        print_table(f"shipped latency tables matching {args.pattern!r} ({len(rows)})",
                    ["table", "resolutions", "ms (smallest … largest)", "source", "host", "runtime", "date"],
                    [[r["table"], ",".join(map(str, r["resolutions"])),
                      f"{r['min_ms']:.3g} … {r['max_ms']:.3g}" if r["min_ms"] is not None else "",
                      r["source"], f"{r['host']} ({r['cpu_count']} cpu)", f"{r['backend']} {r['runtime_version']}",
                      str(r["date"])[:10]] for r in rows])
    return 0 if rows else 2
