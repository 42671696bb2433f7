"""A latency lookup table and its predictor: a subnet's latency is the sum of its ops' measured
latencies (the official rule), optionally corrected by a calibration fitted on whole-network
measurements. Prediction is vectorized over ArchBatch (the search calls it ~50,000 times)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..arch import ArchBatch, ArchConfig
from ..cost import AdditiveCost
from ..errors import OfaDeployError
from ..fileio import atomic_write_json
from ..registry import SUPERNETS, get_supernet_record
from .calibration import Calibration, correction_from_dict
from .format import TableFormatError, entry_ms, read_table_folder, table_file, write_table_file

PROVENANCE = "provenance.json"


class MissingOpsError(OfaDeployError, KeyError):
    """An arch needs ops the table has no entry for."""

    def __str__(self) -> str:
        return self.args[0]


def _read_provenance(path: Path) -> dict[str, Any]:
    """provenance.json as a dict ({} when absent); a broken one is an error naming the file."""
    if not path.exists():
        return {}
    try:
        prov = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TableFormatError(f"{path}: not valid JSON ({exc}); restore it, or delete it and pass supernet=... "
                               f"(the table's op entries stay usable)") from None
    if not isinstance(prov, dict):
        raise TableFormatError(f"{path}: expected a JSON object with supernet, source, …, got "
                               f"{type(prov).__name__}; restore it or delete it and pass supernet=...")
    if "supernet" in prov and not isinstance(prov["supernet"], str):
        raise TableFormatError(f"{path}: 'supernet' is {prov['supernet']!r}, expected a supernet name")
    return prov


def infer_supernet(entries: dict[int, dict[str, Any]]) -> str:
    """The MobileNetV3 space a table without provenance belongs to, from its stem's width."""
    for table in entries.values():
        for key in table:
            m = re.match(r"Conv-input:\d+x\d+x(\d+)-output:\d+x\d+x(\d+)$", key)
            if m:
                for rec in SUPERNETS.records():
                    spec = rec.spec
                    if getattr(spec, "in_channels", None) == int(m.group(1)) and spec.widths[0] == int(m.group(2)):
                        return rec.name
    raise OfaDeployError("cannot tell which supernet this table belongs to (no stem 'Conv' entry matching a "
                         "registered space); pass supernet=... or add a provenance.json")


class LatencyTable:
    """Op latencies per resolution for one supernet, with provenance and calibration."""

    def __init__(self, supernet: str, entries: dict[int, dict[str, dict[str, Any]]], source: str = "measured",
                 provenance: dict[str, Any] | None = None, calibration: Calibration | None = None, name: str = ""):
        self.supernet = get_supernet_record(supernet).name
        self.spec = get_supernet_record(supernet).spec
        self.entries = {int(r): t for r, t in entries.items()}
        self.source, self.name = source, name or self.supernet
        self.provenance = dict(provenance or {})
        self.calibration = calibration      # a Calibration (linear) or a residual.Residual, or None
        self._sum = AdditiveCost(self.spec, self._op_cost)
        self._features: dict[str, AdditiveCost] | None = None

    @property
    def resolutions(self) -> tuple[int, ...]:
        return tuple(sorted(self.entries))

    @property
    def space(self):
        return self.spec.space

    def tables(self, r: int) -> tuple[float, np.ndarray]:
        """The prediction as additive tables (fixed ops, [block, kernel, expand]) at resolution r, with
        the correction folded in (every correction is linear in additive features, so still a sum
        over ops): search gathers from these instead of calling predict, and finds exact minima."""
        if r not in self.entries:
            raise OfaDeployError(f"table {self.name!r} has no entries for resolution {r}; it covers "
                                 f"{list(self.resolutions)}")
        fixed, blocks = self._sum.tables(r)
        if self.calibration is None:
            return fixed, blocks
        feats = self.feature_costs()
        return self.calibration.fold({f: feats[f].tables(r) for f in self.calibration.features})

    # ---- io ------------------------------------------------------------------------------
    @classmethod
    def load(cls, folder: str | Path, supernet: str | None = None, name: str = "") -> "LatencyTable":
        folder = Path(folder)
        entries = read_table_folder(folder)
        prov = _read_provenance(folder / PROVENANCE)
        sn = supernet or prov.get("supernet") or infer_supernet(entries)
        try:
            cal = correction_from_dict(prov["calibration"]) if prov.get("calibration") else None
            if cal is not None and not all(np.isfinite(float(w)) for w in cal.weights.values()):
                raise ValueError("non-finite coefficient")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TableFormatError(f"{folder / PROVENANCE}: 'calibration' is broken ({type(exc).__name__}: {exc}); "
                                   f"expected finite numbers a, b, c — remove the 'calibration' field to use the "
                                   f"plain op sum, or re-fit it with `ofa-deploy lut build`") from None
        source = prov.get("source", "official" if not prov else "measured")
        return cls(sn, entries, source, prov, cal, name or prov.get("name", folder.name))

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        for r, table in self.entries.items():
            write_table_file(table_file(folder, r), table)
        prov = {**self.provenance, "supernet": self.supernet, "source": self.source, "name": self.name,
                "resolutions": list(self.resolutions)}
        if self.calibration is not None:
            prov["calibration"] = self.calibration.to_dict()
        atomic_write_json(folder / PROVENANCE, prov)
        return folder

    # ---- prediction ----------------------------------------------------------------------
    def _op_cost(self, op, r: int) -> float:
        """An op of a subnet at resolution r is looked up in r's table, as the official code does."""
        entry = self.entries.get(r, {}).get(op.key)
        if entry is None:
            return float("nan")
        return entry_ms(entry)  # the median when recorded (authoritative), else the official mean

    def _check_resolutions(self, batch: ArchBatch) -> None:
        bad = sorted(set(batch.r.tolist()) - set(self.resolutions))
        if bad:
            raise OfaDeployError(f"table {self.name!r} has no entries for resolution(s) {bad}; it covers "
                                 f"{list(self.resolutions)} — build the others with `ofa-deploy lut build "
                                 f"--resolutions ...` or search within those")

    def op_sum(self, archs) -> np.ndarray:
        """Σ of the table entries of each arch's ops (the official prediction), vectorized."""
        batch = self._batch(archs)
        self._check_resolutions(batch)
        out = self._sum.predict_batch(batch)
        if np.isnan(out).any():
            self._raise_missing(batch[np.flatnonzero(np.isnan(out))])
        return out

    def n_ops(self, archs) -> np.ndarray:
        return self.feature_values(archs, ("ops",))["ops"]

    def feature_costs(self) -> dict[str, AdditiveCost]:
        """The additive features a correction may weigh (residual.feature_costs), built once."""
        if self._features is None:
            from .residual import feature_costs

            self._features = feature_costs(self)
        return self._features

    def feature_values(self, archs, names: Sequence[str]) -> dict[str, np.ndarray]:
        """{feature: [N] values} for `archs`; "sum" is op_sum (it names missing ops)."""
        batch = self._batch(archs)
        feats = self.feature_costs()
        return {f: self.op_sum(batch) if f == "sum" else feats[f].predict_batch(batch) for f in names}

    def predict(self, archs: ArchConfig | Sequence[ArchConfig] | ArchBatch) -> float | np.ndarray:
        """Latency in ms of one arch (a float) or many (an array), corrected when the table is."""
        batch, single = ArchBatch.coerce(self.spec.space, archs)
        raw = self.op_sum(batch)
        if self.calibration is not None:
            raw = self.calibration.apply_features({"sum": raw, **self.feature_values(
                batch, [f for f in self.calibration.features if f != "sum"])})
        return float(raw[0]) if single else raw

    def _batch(self, archs) -> ArchBatch:
        return ArchBatch.coerce(self.spec.space, archs)[0]

    def _raise_missing(self, batch: ArchBatch) -> None:
        missing = sorted({op.key for a in batch.to_archs()[:20] for op in self.spec.arch_ops(a)
                          if op.key not in self.entries.get(a.r, {})})
        shown = "\n  ".join(missing[:8])
        raise MissingOpsError(f"table {self.name!r} lacks {len(missing)} op(s) these archs use, e.g.\n  {shown}\n"
                              f"the archs are outside the table: build the missing ops with `ofa-deploy lut build "
                              f"--supernet {self.supernet} --resolutions {' '.join(map(str, sorted(set(batch.r.tolist()))))}`")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "supernet": self.supernet, "source": self.source,
                "resolutions": list(self.resolutions), "ops": sum(len(t) for t in self.entries.values()),
                "calibrated": self.calibration is not None,
                "correction": getattr(self.calibration, "model", "sum"),
                **{k: self.provenance[k] for k in ("backend", "device", "threads", "date") if k in self.provenance}}
