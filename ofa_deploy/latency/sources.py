"""Where a latency prediction comes from, for a table name, a folder or a device: shipped
measured tables first, then the official Note10 table (hub), then an estimated device model."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import OfaDeployError, UnknownNameError, WeightsUnavailableError
from ..registry import ASSETS, DEVICES, get_supernet_record
from .estimated import fit_device
from .format import read_table_file
from .adapt import host_aware
from .table import LatencyTable

OFFICIAL_NOTE10_SUPERNET = "ofa_mbv3_d234_e346_k357_w1.2"


def shipped_tables_root() -> Path:
    return Path(str(resources.files("ofa_deploy.tables")))


def shipped_table_dir(supernet: str, device: str) -> Path:
    return shipped_tables_root() / get_supernet_record(supernet).name / DEVICES.get(device).name


def list_shipped_tables() -> list[str]:
    root = shipped_tables_root()
    return sorted(f"{p.parent.name}/{p.name}" for p in root.glob("*/*") if (p / "provenance.json").exists())


def official_note10_table(offline: bool | None = None) -> LatencyTable:
    """The official Note10 tables (w1.2 space, 160–224 px), fetched through the hub and cached."""
    from .. import hub

    entries = {r: read_table_file(hub.fetch(ASSETS.get(f"note10_lut_{r}"), offline=offline, progress=False))
               for r in (160, 176, 192, 208, 224)}
    return LatencyTable(OFFICIAL_NOTE10_SUPERNET, entries, "official", name="note10 (official)",
                        provenance={"source": "official", "device": "note10",
                                    "url": "https://raw.githubusercontent.com/han-cai/files/master/ofa/note10/"})


def predictor_for_device(device: str, supernet: str):
    """The best latency predictor for `device` and `supernet` that works now."""
    rec, sn = DEVICES.get(device), get_supernet_record(supernet).name
    folder = shipped_table_dir(sn, rec.name)
    if (folder / "provenance.json").exists():
        return host_aware(LatencyTable.load(folder, name=f"{rec.name} (measured)"))
    if rec.name == "note10" and sn == OFFICIAL_NOTE10_SUPERNET:
        try:
            return official_note10_table()
        except WeightsUnavailableError:
            pass  # offline: the estimated model below still works
    published = rec.settings.get("published")
    if published:
        return fit_device(published).for_supernet(sn)
    raise OfaDeployError(f"no latency source for device {rec.name!r} with supernet {sn!r}: build one with "
                         f"`ofa-deploy lut build --supernet {sn} --backend {rec.backend} --out "
                         f"latency_tables/{sn}/{rec.name}`")


def load_latency_table(name_or_path: str | Path, supernet: str | None = None):
    """A table from a folder path, 'note10' (official), '<supernet>/<device>' (shipped), or a
    device name (with `supernet`, default the w1.0 space)."""
    p = Path(name_or_path)
    from ..registry import SUPERNETS

    looks_like_path = p.exists() or p.is_absolute() or str(name_or_path).startswith(".") or \
        ("/" in str(name_or_path) and str(name_or_path).split("/", 1)[0] not in SUPERNETS)
    if p.is_dir() or looks_like_path:  # a missing folder or a file gets the loader's clear error
        return host_aware(LatencyTable.load(p, supernet))
    name = str(name_or_path)
    if name.lower() in ("note10", "note10-official") and (supernet is None or
                                                          get_supernet_record(supernet).name == OFFICIAL_NOTE10_SUPERNET):
        return official_note10_table()
    if "/" in name:
        sn, dev = name.split("/", 1)
        folder = shipped_table_dir(sn, dev)
        if (folder / "provenance.json").exists():
            return host_aware(LatencyTable.load(folder))
        raise UnknownNameError("latency table", name, list_shipped_tables())
    if name in DEVICES:
        return predictor_for_device(name, supernet or "ofa_mbv3_d234_e346_k357_w1.0")
    raise UnknownNameError("latency table", name, list_shipped_tables() + DEVICES.names() + ["note10"],
                           "Pass a folder holding <res>_lookup_table.yaml files, or a device name.")
