"""Adapt a table to this host: measure a few whole subnets here (spread over the table's latency
range, a third of them searched-like: large expand/kernel) and choose the correction on held-out
nets — the plain op sum, the linear calibration or a learned residual (residual.py), the simplest
that wins there. It is stored per host (fingerprint id) in the user cache, next to a journal of
every whole-net measurement taken here (all of which the next fit uses), and applied
automatically when that table is loaded on this host."""
from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..arch import ArchBatch, ArchConfig
from ..deploy.base import MeasureSettings
from ..errors import BadArgumentError, BackendUnavailableError, OfaDeployError
from ..fileio import append_jsonl, atomic_write_json, read_jsonl
from .calibration import correction_from_dict
from .fingerprint import fingerprint_diff, host_fingerprint
from ..registry import get_supernet_record
from .table import LatencyTable

log = logging.getLogger("ofa_deploy")
N_PARAMS = 3             # a, c, b of the linear calibration, the simplest correction
_warned: set[str] = set()


class HostMismatchWarning(UserWarning):
    """A local-backend table is used on a host with a different fingerprint."""


def table_key(table: LatencyTable) -> str:
    """A stable id for a table's content (supernet + op entries): adaptations follow the table."""
    blob = json.dumps({"sn": table.supernet, "e": table.entries}, sort_keys=True, default=str)
    return f"{table.supernet}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def adapt_dir(table: LatencyTable) -> Path:
    from ..hub import cache_dir

    return cache_dir() / "adapted" / table_key(table)


def _paths(table: LatencyTable, fp_id: str) -> tuple[Path, Path]:
    d = adapt_dir(table)
    return d / f"{fp_id}.json", d / f"{fp_id}.measured.jsonl"


@dataclass
class AdaptResult:
    table: LatencyTable
    accepted: bool
    report: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def pick_archs(table: LatencyTable, n: int, seed: int = 0) -> list[ArchConfig]:
    """n subnets spread over the predicted latency range; every third one searched-like
    (maximal expand and kernel in random blocks, as search tends to pick)."""
    sp, rng = table.spec.space, np.random.default_rng(seed)
    pool = ArchBatch.sample(sp, max(10 * n, 50), rng=rng, resolutions=table.resolutions)
    big = ArchBatch.sample(sp, max(4 * n, 20), rng=rng, resolutions=table.resolutions)
    mask = rng.random(big.ks.shape) < 0.7
    big.ks[mask], big.e[mask] = max(sp.ks_choices), max(sp.e_choices)
    chosen: list[ArchConfig] = []
    for batch, k in ((big, n // 3), (pool, n - n // 3)):
        pred = table.op_sum(batch)
        order = np.argsort(pred)
        idx = order[np.linspace(0, len(order) - 1, k).round().astype(int)] if k else []
        chosen += [batch.to_archs()[i] for i in idx]
    return chosen


def _check_n(n: int) -> None:
    if n < N_PARAMS * 3:
        raise BadArgumentError(f"adaptation needs at least {N_PARAMS * 3} subnets (3 × the {N_PARAMS} "
                               f"calibration parameters), got n={n}; pass n={N_PARAMS * 3} or more (20 is the default)")


def _check_backend(table: LatencyTable, backend: str, serial: str | None, options: dict):
    from ..deploy import get_backend

    b = get_backend(backend)
    tb = table.provenance.get("backend")
    if tb and tb != b.name:
        raise BadArgumentError(f"table {table.name!r} was measured with backend {tb!r}, not {backend!r}; "
                               f"adapt it with --backend {tb}")
    if serial:
        if not hasattr(b, "connect"):
            raise BadArgumentError(f"backend {backend!r} cannot measure on an adb device (--serial); drop --serial")
        b.connect(serial, **{k: v for k, v in options.items() if k != "serial"})
    return b


def score(cal, table: LatencyTable, archs, meas: np.ndarray) -> dict[str, float]:
    """Metrics of `table`'s op sum corrected by `cal` (None: the plain sum) against measurements."""
    from .evaluate import metrics

    return metrics(with_correction(table, cal).predict(archs), meas)


def decide(table: LatencyTable, archs: Sequence[ArchConfig], meas: np.ndarray, seed: int = 0,
           models: Sequence[str] | None = None) -> tuple[Any, dict]:
    """Score the plain sum, the linear calibration and the learned residuals on held-out nets
    (k-fold: each net is predicted by a model fitted without it), pick the simplest within one
    standard error of the best, keep it only if nested cross-validation of that choice beats the
    plain sum (residual.choose), and refit it on all nets."""
    from .residual import all_features, choose

    space = table.spec.space
    values = table.feature_values(list(archs), all_features(space))
    corr, rep = choose(values, np.asarray(meas, dtype=np.float64), space, seed, models)
    lowest = _lowest_prediction(table, corr)
    if lowest is not None and lowest <= 0:     # a fit on few nets can tilt below zero outside their range
        rep = {**rep, "chosen": "sum", "verdict": f"correction rejected: the {rep['chosen']} fit predicts "
               f"{lowest:.3g} ms for the fastest subnet of the space (a latency must be positive); the plain sum is used"}
        corr = None
    cands, chosen = rep["candidates"], rep["chosen"]
    tried = [c for c in cands if c != "sum" and cands[c]["eligible"]]
    shown = chosen if chosen != "sum" else min(tried, key=lambda c: cands[c]["held_out"]["mape"], default=None)
    accepted = chosen != "sum"
    report = {**rep, "n": len(archs), "held_out_sum_of_ops": cands["sum"]["held_out"],
              "held_out_calibrated": rep["held_out_choice"] if accepted else
              cands[shown]["held_out"] if shown else cands["sum"]["held_out"],
              "model_shown": shown, "accepted": accepted}     # rep["verdict"]: the rule that decided, and why
    return corr, report


def _lowest_prediction(table: LatencyTable, corr) -> float | None:
    """The corrected table's exact minimum over its space (None: no correction, or not additive)."""
    from ..cost import additive_min, is_additive

    corrected = with_correction(table, corr) if corr is not None else None
    if corrected is None or not is_additive(corrected, table.spec.space):
        return None
    return additive_min(corrected, table.spec.space, table.resolutions)[0]


def adapt_table(table: LatencyTable | str | Path, backend: str, n: int = 20, settings: MeasureSettings | None = None,
                sessions: int = 3, seed: int = 0, serial: str | None = None,
                extra: Sequence[tuple[ArchConfig, float]] = (), progress: bool = False,
                supernet: str | None = None) -> AdaptResult:
    """Measure `n` whole subnets on this host, refit the correction, keep it only if it wins on
    held-out nets, and store it per host. Returns the adapted table (a copy) and the report."""
    from .builder import measure_arch
    from .measure import Measurer
    from .sources import load_latency_table
    from ..supernets import get_supernet

    _check_n(n)
    if not isinstance(table, LatencyTable):
        table = load_latency_table(table)
    settings = settings or MeasureSettings(warmup=5, runs=20, min_seconds=0.05)
    if serial:
        settings = settings.with_options(serial=serial)
    if supernet and get_supernet_record(supernet).name != table.supernet:
        raise BadArgumentError(f"table {table.name!r} is for supernet {table.supernet!r}, not {supernet!r}; "
                               f"pass that supernet's table (e.g. `ofa-deploy lut list '*{supernet}*'`)")
    _check_backend(table, backend, serial, settings.options)
    fp = host_fingerprint(backend)
    cal_path, journal = _paths(table, fp["id"])
    done = {r["arch"]: r["ms"] for r in read_jsonl(journal) if isinstance(r, dict) and "arch" in r}
    archs = pick_archs(table, n, seed)
    m = Measurer(backend, settings)
    net = get_supernet(table.supernet)
    try:
        from tqdm import tqdm

        for a in tqdm(archs, desc="adapt nets", unit="net", disable=not progress):
            if a.to_json() not in done:
                ms = measure_arch(m, net, a, sessions=sessions)
                journal.parent.mkdir(parents=True, exist_ok=True)
                append_jsonl(journal, {"arch": a.to_json(), "ms": ms, "backend": backend})
                done[a.to_json()] = ms
    except OfaDeployError:
        raise
    except Exception as exc:   # a runtime that cannot run here / a device that went away
        raise BackendUnavailableError(
            f"measuring on backend {backend!r}{f' (adb {serial})' if serial else ''} failed: {type(exc).__name__}: "
            f"{exc}; nothing was adapted (the {len(done)} nets measured so far are kept and reused on retry) — "
            f"check the runtime/device and run `ofa-deploy lut adapt` again") from None
    # every net measured here for this table (this run's, earlier runs', verify rounds') joins the fit
    known, known_ms = adaptation_data(table)
    all_archs = known + [ArchConfig.coerce(a, table.space) for a, _ in extra]
    meas = np.concatenate([known_ms, [float(ms) for _, ms in extra]])
    cal, report = decide(table, all_archs, meas, seed)
    out = _copy(table)
    out.calibration = cal
    report.update({"table": table.name, "backend": backend, "n": len(all_archs), "fingerprint": fp,
                   "method": f"{sessions} fresh sessions per net (deploy.timing.measure_artifact)",
                   "settings": settings.to_dict(), "calibration": cal.to_dict() if cal else None})
    atomic_write_json(cal_path, report)
    out.provenance["adaptation"] = report
    return AdaptResult(out, report["accepted"], report, cal_path)


def record_measurement(table: LatencyTable, arch: ArchConfig, measured_ms: float, backend: str) -> Path:
    """Keep one whole-net measurement (e.g. a verify round) as adaptation data for this host."""
    _, journal = _paths(table, host_fingerprint()["id"])
    journal.parent.mkdir(parents=True, exist_ok=True)
    append_jsonl(journal, {"arch": ArchConfig.coerce(arch, table.space).to_json(), "ms": float(measured_ms),
                           "backend": backend, "from": "verify"})
    return journal


def _copy(table: LatencyTable) -> LatencyTable:
    return with_correction(table, table.calibration)


def with_correction(table: LatencyTable, correction) -> LatencyTable:
    """A copy of `table` predicting with `correction` (None: the plain op sum)."""
    return LatencyTable(table.supernet, table.entries, table.source, dict(table.provenance), correction, table.name)


def adaptation_data(table: LatencyTable) -> tuple[list[ArchConfig], np.ndarray]:
    """This host's whole-net measurements for `table` (adapt runs and verify rounds), latest per arch."""
    _, journal = _paths(table, host_fingerprint()["id"])
    done = {r["arch"]: float(r["ms"]) for r in read_jsonl(journal) if isinstance(r, dict) and "arch" in r}
    return [ArchConfig.from_json(a) for a in done], np.array(list(done.values()), dtype=np.float64)


def host_aware(table: LatencyTable) -> LatencyTable:
    """Apply this host's stored adaptation to `table`; else warn once if the table was measured
    on a local backend of a different host. Called by every table loader in sources.py."""
    prov = table.provenance
    rec = prov.get("fingerprint")
    if prov.get("serials") or table.source != "measured":
        return table   # official/estimated tables, or ones measured on an adb device: not this host's
    here = host_fingerprint()
    cal_path, _ = _paths(table, here["id"])
    if cal_path.exists():
        try:
            rep = json.loads(cal_path.read_text())
            table.calibration = correction_from_dict(rep["calibration"]) if rep.get("calibration") else None
            table.provenance = {**prov, "adaptation": rep}
            return table
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring broken adaptation %s (%s); re-run `ofa-deploy lut adapt`", cal_path, exc)
    diff = fingerprint_diff(rec, here) if rec else []   # tables older than fingerprints: no warning
    if diff and table.name not in _warned:
        _warned.add(table.name)
        warnings.warn(f"latency table {table.name!r} was measured on another host ({'; '.join(diff)}); its "
                      f"predictions may be off here. Fix: `ofa-deploy lut adapt {table.name} --backend "
                      f"{prov.get('backend', '<backend>')}` (or ofa_deploy.adapt_table), about 2 minutes",
                      HostMismatchWarning, stacklevel=3)
    return table
