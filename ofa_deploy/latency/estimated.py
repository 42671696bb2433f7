"""Estimated device models: where nobody has measured a table on a device, learn its latency
from the official specialized nets published for it (their measured ms are in their ids).

latency ≈ Σ over ops of w·features(op) (+ an intercept), fitted by non-negative least squares on
the device's published nets. Features are op-level (1x1-conv MACs, depthwise MACs, other MACs,
activation traffic), so one model serves every MBConv space and any resolution (the published
pixel1 nets run at 152–240 px). Several feature sets are tried; the one with the lowest
leave-one-out error wins, and that error is reported. Always labelled `estimated`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

import numpy as np

from ..arch import ArchBatch, ArchConfig
from ..cost import AdditiveCost
from ..errors import UnknownNameError
from ..registry import get_supernet_record
from ..supernets.ops import Op, ops_from_net_config

FEATURES = ("pw_gmacs", "dw_gmacs", "other_gmacs", "act_melems")
CANDIDATES = (("pw_gmacs", "dw_gmacs", "other_gmacs"), ("pw_gmacs", "dw_gmacs", "intercept"),
              ("pw_gmacs", "dw_gmacs", "act_melems"), ("pw_gmacs", "dw_gmacs"), ("all_gmacs", "intercept"),
              ("all_gmacs",))


def op_features(op: Op) -> dict[str, float]:
    """Work and traffic of one op, in GMACs and millions of activation elements."""
    h, w, cin = op.in_shape
    out_elems = int(np.prod(op.out_shape))
    if op.kind == "expanded_conv":
        ho, wo, cout = op.out_shape
        dw = ho * wo * op.mid * op.ks * op.ks
        pw = op.macs - dw
        act = h * w * cin + (h * w * op.mid if op.mid != cin else 0) + 2 * ho * wo * op.mid + out_elems
        return {"pw_gmacs": pw / 1e9, "dw_gmacs": dw / 1e9, "other_gmacs": 0.0, "act_melems": act / 1e6}
    other = op.macs if op.kind in ("Conv", "Logits") else 0
    pw = op.macs - other
    return {"pw_gmacs": pw / 1e9, "dw_gmacs": 0.0, "other_gmacs": other / 1e9,
            "act_melems": (h * w * cin + out_elems) / 1e6}


def _design(ops_list: Sequence[Sequence[Op]], names: Sequence[str]) -> np.ndarray:
    rows = []
    for ops in ops_list:
        f = {k: sum(op_features(op)[k] for op in ops) for k in FEATURES}
        f["all_gmacs"] = f["pw_gmacs"] + f["dw_gmacs"] + f["other_gmacs"]
        f["intercept"] = 1.0
        rows.append([f[n] for n in names])
    return np.asarray(rows)


def _nnls(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares on relative error (a 10 ms net counts as much as a 100 ms one)."""
    from scipy.optimize import nnls

    return nnls(X / y[:, None], np.ones_like(y))[0]


def _loo_mape(X: np.ndarray, y: np.ndarray) -> float:
    errs = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        w = _nnls(X[keep], y[keep])
        errs.append(abs(X[i] @ w - y[i]) / y[i])
    return float(np.mean(errs) * 100)


@lru_cache(maxsize=1)
def published_nets() -> tuple[dict, ...]:
    """The official specialized nets shipped as package data (id, device, ms, top-1, net.config)."""
    text = resources.files("ofa_deploy").joinpath("data/specialized_nets.json").read_text()
    return tuple(json.loads(text)["nets"])


def published_devices() -> list[str]:
    return sorted({n["device"] for n in published_nets() if n["device"] and n["latency_ms"]})


@dataclass
class EstimatedModel:
    """A fitted device model; `for_supernet(name)` gives the predictor search uses."""

    device: str
    features: tuple[str, ...]
    weights: np.ndarray
    loo_mape: float
    fit_mape: float
    nets: list[dict]

    @property
    def provenance(self) -> dict[str, Any]:
        return {"source": "estimated", "device": self.device, "method": "NNLS over op features fitted to the "
                "published latencies of the official specialized nets", "features": list(self.features),
                "weights": self.weights.tolist(), "leave_one_out_mape": round(self.loo_mape, 2),
                "fit_mape": round(self.fit_mape, 2), "fitted_on": [n["net_id"] for n in self.nets]}

    @property
    def fitted_resolutions(self) -> tuple[int, int]:
        """(smallest, largest) input size of the nets the model was fitted on."""
        sizes = [int(n["image_size"]) for n in self.nets]
        return min(sizes), max(sizes)

    @property
    def fitted_latency(self) -> tuple[float, float]:
        """(fastest, slowest) published latency in ms the model was fitted on."""
        ms = [float(n["latency_ms"]) for n in self.nets]
        return min(ms), max(ms)

    def ops_cost(self, ops: Sequence[Op]) -> float:
        return float(_design([ops], self.features)[0] @ self.weights)

    def for_supernet(self, supernet: str) -> "EstimatedPredictor":
        return EstimatedPredictor(self, supernet)


def _op_cost(model: EstimatedModel, op: Op) -> float:
    f = op_features(op)
    f["all_gmacs"], f["intercept"] = f["pw_gmacs"] + f["dw_gmacs"] + f["other_gmacs"], 0.0
    return float(sum(w * f[n] for n, w in zip(model.features, model.weights)))


class EstimatedPredictor:
    """Latency prediction (ms) on a device without a measured table, vectorized like a table."""

    source = "estimated"

    def __init__(self, model: EstimatedModel, supernet: str):
        self.model, self.supernet = model, get_supernet_record(supernet).name
        spec = get_supernet_record(supernet).spec
        self.space = spec.space
        self._cost = AdditiveCost(spec, lambda op, r: _op_cost(model, op))
        self.intercept = dict(zip(model.features, model.weights)).get("intercept", 0.0)
        self.name = f"{model.device} (estimated)"
        lo, hi = model.fitted_resolutions
        self.provenance = {**model.provenance, "supernet": self.supernet, "fitted_resolutions": [lo, hi],
                           "fitted_latency_ms": [round(x, 2) for x in model.fitted_latency]}
        self.resolutions = tuple(range(self.space.min_resolution, self.space.max_resolution + 1,
                                       self.space.resolution_step))

    def outside_fitted(self, resolutions: Sequence[int], budgets: Sequence[float] = ()) -> str | None:
        """Why a request (resolutions, latency budgets) lies outside what the model was fitted on — its
        numbers there are extrapolations — or None when it lies inside. Search warns with this and
        records it in the result; it does not refuse (an estimate is all a device without a table has)."""
        lo, hi = self.model.fitted_resolutions
        fast, slow = self.model.fitted_latency
        bad_r = sorted({int(r) for r in resolutions if not lo <= int(r) <= hi})
        bad_b = sorted({float(b) for b in budgets if not 0.5 * fast <= float(b) <= 2 * slow})
        if not bad_r and not bad_b:
            return None
        what = " and ".join(x for x in (f"resolution(s) {bad_r}" if bad_r else "",
                                         f"budget(s) {[f'{b:g} ms' for b in bad_b]}" if bad_b else "") if x)
        return (f"the estimated {self.model.device} latency model was fitted on published nets at {lo}–{hi} px "
                f"running {fast:.1f}–{slow:.1f} ms; {self.supernet} at {what} is outside that range, so its "
                f"latencies are extrapolated guesses — measure a table with `ofa-deploy lut build` for real numbers")

    def predict(self, archs: ArchConfig | Sequence[ArchConfig] | ArchBatch):
        batch, single = ArchBatch.coerce(self.space, archs)
        out = self._cost.predict_batch(batch) + self.intercept
        return float(out[0]) if single else out

    def tables(self, r: int) -> tuple[float, np.ndarray]:
        """Additive tables at resolution r (the intercept folded into the fixed ops), for search."""
        fixed, blocks = self._cost.tables(r)
        return fixed + self.intercept, blocks


@lru_cache(maxsize=None)
def fit_device(device: str) -> EstimatedModel:
    """Fit the device model to the device's published nets (the best of CANDIDATES by LOO error)."""
    nets = [n for n in published_nets() if n["device"] and n["device"].lower() == device.lower() and n["latency_ms"]]
    if len(nets) < 3:
        raise UnknownNameError("device with published nets", device, published_devices())
    y = np.array([n["latency_ms"] for n in nets])
    ops = [ops_from_net_config(n["net_config"], n["image_size"]) for n in nets]
    best = None
    for names in CANDIDATES:
        if len(names) >= len(nets):
            continue
        X = _design(ops, names)
        loo = _loo_mape(X, y)
        if best is None or loo < best[0]:
            best = (loo, names, X)
    loo, names, X = best
    w = _nnls(X, y)
    fit = float(np.mean(np.abs(X @ w - y) / y) * 100)
    return EstimatedModel(nets[0]["device"], tuple(names), w, loo, fit, nets)
