"""`ofa_deploy.search(...)`: the most accurate subnet of a supernet under latency / MACs / params
limits, or (pareto=[budgets]) the accuracy–latency front — from names, files or objects."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..arch import ArchBatch
from ..errors import BadArgumentError, OfaDeployError, check_number
from .constraints import UNITS, Constraint, check_feasible
from .evolution import EvolutionConfig, evolve
from .resolve import cache_file, cache_key, check_model_resolutions, fingerprint, latency_model
from .result import ParetoResult, SearchResult


def search(supernet: str = "ofa_mbv3_w1.0", device: str | None = None, latency: float | None = None, *,
           latency_table: Any = None, accuracy_predictor: Any = None, macs: float | None = None,
           params: float | None = None, pareto: Sequence[float] | None = None,
           resolutions: Sequence[int] | None = None, seed: int = 0, config: EvolutionConfig | None = None,
           progress: bool = True, cache: bool = False, cache_dir: str | Path | None = None,
           plot: str | Path | None = None) -> SearchResult | ParetoResult:
    """Evolutionary search (official defaults, vectorized) for the best predicted accuracy with
    latency ≤ `latency` ms on `device` (or on `latency_table`), MACs ≤ `macs`, params ≤ `params`.

    Tables and predictors may be a path, a registry name or an object with `predict(archs)`.
    pareto=[ms, …] searches every budget in one run and returns a ParetoResult (plot= writes a PNG).
    An infeasible limit raises InfeasibleError carrying the smallest achievable value; the result
    never breaks a limit. cache=True reuses a stored result made from identical inputs."""
    from ..accuracy import load_accuracy_predictor
    from ..registry import get_supernet_record

    record = get_supernet_record(supernet)
    space = record.space
    cfg = config or EvolutionConfig()
    res = sorted(set(space.check_resolutions(space.resolutions if resolutions is None else resolutions)))
    latency = None if latency is None else check_number("latency", latency, minimum=0, exclusive=True, unit="ms")
    macs = None if macs is None else check_number("macs", macs, minimum=0, exclusive=True)
    params = None if params is None else check_number("params", params, minimum=0, exclusive=True)
    if pareto is not None:
        if isinstance(pareto, (str, bytes)) or not hasattr(pareto, "__iter__") or not list(pareto):
            raise BadArgumentError(f"pareto={pareto!r} must be a non-empty list of latency budgets in ms, "
                                   "e.g. pareto=[20, 30, 40]", "pareto")
        pareto = [check_number("pareto", b, minimum=0, exclusive=True, unit="ms") for b in pareto]
    check_number("seed", seed, minimum=0, integer=True)   # numpy seeds are non-negative
    if plot is not None:   # a plot path under a file fails now, not after the search
        from ..fileio import check_dir_path

        check_dir_path(Path(plot).parent, "plot folder", "plot")
    _check_config(cfg)
    predictor = load_accuracy_predictor(accuracy_predictor, record.name)
    encoder = getattr(predictor, "encoder", None)
    if encoder is not None:
        encoder.check_resolutions(res)
    lat_model, lat_info = latency_model(record.name, device, latency_table)
    if lat_model is not None:
        check_model_resolutions(lat_model, res, "latency model")
    budgets = sorted(float(b) for b in pareto) if pareto else None
    if budgets and lat_model is None:
        raise OfaDeployError("pareto mode needs a latency model: pass device=<name> or latency_table=<path>")
    if lat_model is not None and latency is None and not budgets:
        raise OfaDeployError("a device or latency table was given without a budget: pass latency=<ms> (or pareto=)")
    if callable(getattr(lat_model, "outside_fitted", None)):  # an estimate used beyond what it was fitted on
        warning = lat_model.outside_fitted(res, ([latency] if latency is not None else []) + list(pareto or []))
        if warning:
            from ..log import LOGGER

            LOGGER.warning(f"warning: {warning}")
            lat_info["warning"] = warning
    constraints = _constraints(record.name, lat_model, lat_info, latency, macs, params, budgets)
    limits = np.array([[c.limit for c in constraints]] * (len(budgets) if budgets else 1), dtype=np.float64)
    if budgets:
        limits[:, 0] = budgets
    acc_info = {"is_accuracy": bool(getattr(predictor, "is_accuracy", True)),
                **(predictor.describe() if hasattr(predictor, "describe") else {"source": "user"})}
    key = cache_key({"supernet": record.name, "space": space.describe(), "resolutions": res, "seed": seed,
                     "config": cfg.to_dict(), "limits": limits.tolist(), "names": [c.name for c in constraints],
                     "accuracy": fingerprint(predictor, space, res),
                     "latency": fingerprint(lat_model, space, res) if lat_model is not None else None})
    path = cache_file(key, cache_dir) if cache else None
    if path is not None and path.exists():
        out = _load(path, bool(budgets))
        if plot and budgets:
            out.plot(plot)
        return out
    check_feasible(constraints, space, res, limits, f" for {record.name}" + (f" on {device}" if device else ""))
    t0 = time.perf_counter()
    evo = evolve(space, predictor, constraints, limits, res, cfg, seed, progress,
                 desc=f"search {record.name}" + (f" on {device}" if device else ""))
    seconds = time.perf_counter() - t0
    points = _points(record.name, evo, constraints, limits, acc_info, lat_info, res, seed, cfg, seconds, key)
    out: SearchResult | ParetoResult = points[0]
    if budgets:
        lat = evo.population_values[:, 0].tolist()
        out = ParetoResult(points, {"latency": lat, "score": evo.population_score.tolist(),
                                    "budget": [budgets[k] for k in evo.population_group]}, round(seconds, 3))
        if plot:
            out.plot(plot)
    if path is not None:
        from ..fileio import atomic_write_json

        atomic_write_json(path, out.to_dict())
    return out


def _check_config(cfg: EvolutionConfig) -> None:
    """Evolution settings the loop cannot run with (population 0, negative generations, ratios off 0..1)."""
    check_number("population", cfg.population, minimum=2, integer=True)
    check_number("generations", cfg.generations, minimum=0, integer=True)
    check_number("max_redraws", cfg.max_redraws, minimum=1, integer=True)
    for name in ("parent_ratio", "mutation_ratio", "mutate_prob", "resolution_mutate_prob"):
        v = check_number(name, getattr(cfg, name), minimum=0)
        if v > 1:
            raise BadArgumentError(f"{name}={v:g} must lie in 0..1", name)
    if int(cfg.population * cfg.parent_ratio) < 1:
        raise BadArgumentError(f"population={cfg.population} with parent_ratio={cfg.parent_ratio:g} keeps no "
                               "parents; raise population= or parent_ratio=", "population")


def _constraints(supernet, lat_model, lat_info, latency, macs, params, budgets) -> list[Constraint]:
    from ..profile import _models

    mac_model, param_model = _models(supernet)
    out = []
    if lat_model is not None:
        out.append(Constraint("latency", lat_model, float(budgets[0] if budgets else latency), UNITS["latency"],
                              lat_info))
    if macs is not None:
        out.append(Constraint("macs", mac_model, float(macs), UNITS["macs"]))
    if params is not None:
        out.append(Constraint("params", param_model, float(params), UNITS["params"]))
    return out


def _points(supernet, evo, constraints, limits, acc_info, lat_info, res, seed, cfg, seconds, key) -> list[SearchResult]:
    from ..profile import count_macs, count_params

    archs = evo.best.to_archs()
    macs = np.atleast_1d(count_macs(supernet, evo.best))
    params = np.atleast_1d(count_params(supernet, evo.best))
    out = []
    for k, arch in enumerate(archs):
        values = {c.name: float(evo.values[k, j]) for j, c in enumerate(constraints)}
        lims = {c.name: float(limits[k, j]) for j, c in enumerate(constraints)}
        broken = [n for n in values if values[n] > lims[n]]
        if broken:  # evolve only keeps archs that meet every limit; this guards that promise
            raise AssertionError(f"search returned an arch that breaks {broken}: {values} vs {lims}")
        out.append(SearchResult(
            supernet=supernet, arch=arch, score=float(evo.score[k]), values=values, limits=lims,
            accuracy=acc_info, latency=lat_info, macs=float(macs[k]), params=float(params[k]),
            seconds=round(seconds, 3), seed=seed, resolutions=list(res), config=cfg.to_dict(),
            history=[float(h) for h in evo.history[:, k]],
            stats={"scored": evo.scored, "cache_hits": evo.cache_hits}, cache_key=key))
    return out


def _load(path: Path, pareto: bool) -> SearchResult | ParetoResult:
    d = json.loads(path.read_text())
    return ParetoResult.from_dict(d) if pareto else SearchResult.from_dict(d)


def evaluate_archs(supernet: str, archs, accuracy_predictor: Any = None, device: str | None = None,
                   latency_table: Any = None) -> dict[str, np.ndarray]:
    """Predicted accuracy and latency of given archs (e.g. published nets), with the search's models."""
    from ..accuracy import load_accuracy_predictor
    from ..registry import get_supernet_record

    record = get_supernet_record(supernet)
    batch = ArchBatch.coerce(record.space, archs)[0]
    out = {"score": np.asarray(load_accuracy_predictor(accuracy_predictor, record.name).predict(batch))}
    lat_model, _ = latency_model(record.name, device, latency_table)
    if lat_model is not None:
        out["latency"] = np.asarray(lat_model.predict(batch), dtype=np.float64)
    return out
