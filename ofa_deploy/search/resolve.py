"""Turn what the user passed (device name, table path or name, predictor path or object) into
models with batched `predict`, describe where their numbers come from, and fingerprint them so
search results can be cached by everything that determines them."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..arch import ArchBatch, SearchSpace
from ..cost import is_additive
from ..errors import BadArgumentError, OfaDeployError

CACHE_VERSION = "search/1"


def latency_model(supernet: str, device: str | None = None, latency_table: Any = None) -> tuple[Any, dict[str, Any]]:
    """(model, description) for the latency constraint, or (None, {}) when neither is given."""
    from ..registry import DEVICES

    if latency_table is None and device is None:
        return None, {}
    if latency_table is not None and not isinstance(latency_table, (str, Path)):
        if not callable(getattr(latency_table, "predict", None)):
            raise BadArgumentError(f"latency_table must be a path, a name or an object with predict(archs); got "
                                   f"{type(latency_table).__name__}", "latency_table")
        model = latency_table
    else:
        from .. import latency as lat

        fn = "load_latency_table" if latency_table is not None else "predictor_for_device"
        if not hasattr(lat, fn):
            raise OfaDeployError(f"ofa_deploy.latency.{fn} is missing from this build; pass latency_table=<object "
                                 f"with predict(archs)> or update ofa-deploy")
        model = lat.load_latency_table(latency_table) if latency_table is not None \
            else lat.predictor_for_device(device, supernet)
    owner = getattr(model, "supernet", None)
    if owner and _canonical(owner) != _canonical(supernet):
        raise OfaDeployError(f"the latency model is for {owner}, not {supernet}; pass a table made for {supernet} "
                             f"or search {owner}")
    info: dict[str, Any] = {"device": device, "source": getattr(model, "source", "user"),
                            "provenance": dict(getattr(model, "provenance", None) or {})}
    if device is not None and device in DEVICES:
        rec = DEVICES.get(device)
        info.update(device=rec.name, backend=rec.backend)
    if isinstance(latency_table, (str, Path)):
        info["table"] = str(latency_table)
    return model, info


def _canonical(name: str) -> str:
    from ..registry import SUPERNETS

    return SUPERNETS.get(name).name if name in SUPERNETS else name


def check_model_resolutions(model: Any, resolutions: Sequence[int], what: str) -> None:
    """Fail early when a model says which resolutions it covers and a requested one is not among them."""
    covered = getattr(model, "resolutions", None)
    if covered:
        missing = sorted(set(int(r) for r in resolutions) - set(int(r) for r in covered))
        if missing:
            raise OfaDeployError(f"the {what} covers resolutions {sorted(covered)}, not {missing}; pass "
                                 f"resolutions= within them")


def fingerprint(model: Any, space: SearchSpace, resolutions: Sequence[int]) -> str:
    """A model's identity: its own `fingerprint` when it has one, else a hash of what it predicts
    for a fixed set of probe archs (two models that agree on all of them are treated as equal)."""
    own = getattr(model, "fingerprint", None)
    if isinstance(own, str) and own:
        return own
    if is_additive(model, space):   # its tables are what it predicts (and the search builds them anyway)
        h = hashlib.sha256(b"additive")
        for r in resolutions:
            fixed, blocks = model.tables(int(r))
            h.update(np.float64(fixed).tobytes() + np.ascontiguousarray(blocks, dtype=np.float64).tobytes())
        return h.hexdigest()
    probe = ArchBatch.sample(space, 64, 12345, list(resolutions))
    vals = np.round(np.asarray(model.predict(probe), dtype=np.float64), 9)
    return hashlib.sha256(vals.tobytes()).hexdigest()


def cache_key(parts: dict[str, Any]) -> str:
    """A stable hash of everything that determines a search result."""
    text = json.dumps({"version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cache_file(key: str, cache_dir: str | Path | None = None) -> Path:
    from .. import hub

    return Path(cache_dir or hub.cache_dir()) / "searches" / f"{key}.json"
