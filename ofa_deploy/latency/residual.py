"""A learned residual over the plain op sum: whole-network latency as a weighted sum of additive
features of the arch — the op sum, the op count, a constant (the linear calibration), plus MACs
and weights, or the op time of the blocks by kernel size or by stage — fitted on subnets measured
whole (relative least squares; a ridge pulls the extra weights towards the linear model).

Why additive features: a network runs its blocks one after another on one thread, so what a runtime does differently in a whole net (weights cold in cache rather than
hot as in a per-op benchmark, fused or re-laid-out kernels per op type, per-op call overhead) is
mostly a per-block cost of its own. Being linear in additive features, the model folds into the
per-op tables: the search's one-gather fast path and its exact minimum stay exact.

Which model is used is decided on held-out nets (`choose`), in two steps. The pick: every
eligible model (at least 3 × its parameters nets) is scored by k-fold cross-validation and the
simplest one whose held-out error is within one standard error (or the winning margin) of the
lowest is picked (the plain sum, 0 parameters, first). The check: picking the best of several models on the same
folds that score them flatters the winner, so the whole procedure — pick on inner folds, then
fit — is scored on outer folds it never saw (nested cross-validation), and the pick is kept only
if that honest score beats the plain sum by the margin; else the plain sum is used."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..cost import AdditiveCost
from .calibration import LinearInFeatures, mape

RIDGE = 0.01          # pull of the extra weights towards 0 (standardized; picked on held-out tiny/ORT nets)
MIN_GAIN = 0.05       # a more complex model must cut the held-out MAPE by 5 % (relative) …
MIN_GAIN_PP = 0.1     # … and by 0.1 percentage points (below timing noise anyway) to win
RANK_TOL = 0.05       # … with a held-out Spearman at most this much below the sum's (pooled nested folds vary ~0.02)
NETS_PER_PARAM = 3
RULE = ("one-standard-error pick on k-fold held-out error, kept only if nested cross-validation "
        "(the pick and the fit redone without each outer fold) beats the plain sum")


class _Derived(AdditiveCost):
    """An additive feature given directly as tables(r) → (fixed, [B, K, E] blocks)."""

    def __init__(self, spec, make: Callable[[int], tuple[float, np.ndarray]]):
        super().__init__(spec, lambda op, r: 0.0)
        self._make = make

    def tables(self, r: int) -> tuple[float, np.ndarray]:
        if r not in self._cache:
            self._cache[r] = self._make(r)
        return self._cache[r]


def feature_costs(table) -> dict[str, AdditiveCost]:
    """Every feature a correction may use, as an additive cost model over `table`'s space."""
    spec, sp, op_sum = table.spec, table.spec.space, table._sum

    def masked(mask: np.ndarray) -> Callable[[int], tuple[float, np.ndarray]]:
        return lambda r: (0.0, np.where(mask, op_sum.tables(r)[1], 0.0))

    B, K, E = sp.n_blocks, max(1, len(sp.ks_choices)), len(sp.e_choices)
    shape = (B, K, E)
    stage = np.asarray(sp.block_stage)[:, None, None]
    feats: dict[str, AdditiveCost] = {
        "sum": op_sum,
        "ops": AdditiveCost(spec, lambda op, r: 1.0),
        "macs": AdditiveCost(spec, lambda op, r: op.macs / 1e6),        # MMACs
        "params": AdditiveCost(spec, lambda op, r: op.params / 1e6),    # M weights (≈ bytes cold in cache)
        "one": _Derived(spec, lambda r: (1.0, np.zeros(shape))),
    }
    for s in range(sp.n_stages):
        feats[f"stage{s}"] = _Derived(spec, masked(np.broadcast_to(stage == s, shape)))
    for i, k in enumerate(sp.ks_choices):
        feats[f"k{k}"] = _Derived(spec, masked(np.broadcast_to(np.arange(K)[None, :, None] == i, shape)))
    return feats


BASE = ("sum", "ops", "one")   # the linear calibration's features: fitted freely in every model


def candidates(space) -> dict[str, tuple[str, ...]]:
    """The models tried, simplest first: name → features (one weight each). Beyond BASE a model
    adds MACs and weights ("memory"), or the op time of the blocks with each larger kernel
    ("kernel") or in each later stage ("stage"), or MACs/weights and stages together: weights
    that let those blocks run at their own speed relative to the sum; the ridge pulls them
    towards 0, i.e. towards the linear model."""
    out = {"linear": BASE, "memory": (*BASE, "macs", "params")}
    if len(space.ks_choices) > 1:
        out["kernel"] = (*BASE, *(f"k{k}" for k in space.ks_choices[1:]))
    out["stage"] = (*BASE, *(f"stage{s}" for s in range(1, space.n_stages)))
    out["memory+stage"] = (*out["memory"], *out["stage"][len(BASE):])
    return dict(sorted(out.items(), key=lambda kv: len(kv[1])))


def all_features(space) -> list[str]:
    """Every feature some candidate model of `space` uses."""
    return sorted({f for feats in candidates(space).values() for f in feats})


@dataclass(frozen=True)
class Residual(LinearInFeatures):
    model: str
    weights: dict[str, float]
    n_subnets: int
    mape_before: float
    mape_after: float
    ridge: float = RIDGE

    def to_dict(self) -> dict:
        return {"kind": f"residual: Σ w·feature ({self.model})", "model": self.model, "weights": dict(self.weights),
                "n_subnets": self.n_subnets, "mape_before": self.mape_before, "mape_after": self.mape_after,
                "ridge": self.ridge}

    @classmethod
    def from_dict(cls, d: dict) -> "Residual":
        w = {str(k): float(v) for k, v in dict(d["weights"]).items()}
        if not w or not all(np.isfinite(v) for v in w.values()):
            raise ValueError(f"weights must be finite numbers, got {d['weights']!r}")
        return cls(str(d["model"]), w, int(d["n_subnets"]), float(d["mape_before"]), float(d["mape_after"]),
                   float(d.get("ridge", RIDGE)))


def fit_weights(X: np.ndarray, measured: np.ndarray, penalized: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """min Σ ((X w − m) / m)² + ridge · n · Σ_penalized (s_j w_j)², s_j the rms of column j of X / m:
    least squares on relative error, the extra features shrunk towards 0."""
    A = X / measured[:, None]
    s = np.sqrt(np.mean(A ** 2, axis=0)) + 1e-12
    reg = (np.sqrt(ridge * len(measured)) * np.diag(s))[np.asarray(penalized, dtype=bool)]
    lhs = np.concatenate([A, reg])
    rhs = np.concatenate([np.ones(len(measured)), np.zeros(len(reg))])
    return np.linalg.lstsq(lhs, rhs, rcond=None)[0]


def fit_residual(model: str, features: Sequence[str], values: dict[str, np.ndarray], measured: np.ndarray,
                 ridge: float | None = None) -> Residual:
    ridge = RIDGE if ridge is None else ridge
    X = np.stack([np.broadcast_to(np.asarray(values[f], dtype=np.float64), measured.shape) for f in features], axis=1)
    w = fit_weights(X, measured, np.array([f not in BASE for f in features]), ridge)
    res = Residual(model, dict(zip(features, map(float, w))), len(measured), mape(values["sum"], measured), 0.0, ridge)
    return Residual(model, res.weights, res.n_subnets, res.mape_before, mape(res.apply_features(values), measured), ridge)


def fit_model(model: str, values: dict[str, np.ndarray], measured: np.ndarray, space):
    """The fitted correction named `model` (`linear` is the classic Calibration), or None for `sum`."""
    from .calibration import fit_calibration

    if model == "sum":
        return None
    if model == "linear":
        return fit_calibration(values["sum"], values["ops"], measured)
    return fit_residual(model, candidates(space)[model], values, measured)


def n_params(model: str, space) -> int:
    return 0 if model == "sum" else len(candidates(space)[model])


def cross_validated(model: str, values: dict[str, np.ndarray], measured: np.ndarray, space,
                    folds: np.ndarray) -> np.ndarray:
    """Held-out predictions: each fold predicted by the model fitted on the other folds."""
    pred = np.empty(len(measured))
    for f in np.unique(folds):
        fit, test = folds != f, folds == f
        corr = fit_model(model, {k: _take(v, fit) for k, v in values.items()}, measured[fit], space)
        sub = {k: _take(v, test) for k, v in values.items()}
        pred[test] = sub["sum"] if corr is None else corr.apply_features(sub)
    return pred


def _take(v, mask):
    v = np.asarray(v)
    return v[mask] if v.ndim else v


def _folds(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) % (5 if n >= 15 else 3)


def one_se_pick(values: dict[str, np.ndarray], measured: np.ndarray, space, names: Sequence[str],
                folds: np.ndarray) -> tuple[str, dict[str, np.ndarray]]:
    """The simplest of `names` (simplest first) whose mean held-out relative error exceeds the
    lowest by at most one standard error of their per-net difference, or by less than the winning
    margin (MIN_GAIN, MIN_GAIN_PP); and every model's held-out predictions."""
    pred = {m: cross_validated(m, values, measured, space, folds) for m in names}
    err = {m: np.abs(p / measured - 1) for m, p in pred.items()}
    best = min(names, key=lambda m: err[m].mean())
    for m in names:
        d = err[m] - err[best]
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
        if d.mean() <= max(se, MIN_GAIN * err[m].mean() + MIN_GAIN_PP / 100):
            return m, pred
    return best, pred


def nested_predictions(values: dict[str, np.ndarray], measured: np.ndarray, space, names: Sequence[str],
                       folds: np.ndarray, seed: int) -> np.ndarray:
    """Held-out predictions of the whole procedure: for each outer fold, pick a model on the other
    folds' nets alone (their own inner folds), fit it there, predict the fold."""
    pred = np.empty(len(measured))
    for f in np.unique(folds):
        fit, test = folds != f, folds == f
        sub = {k: _take(v, fit) for k, v in values.items()}
        name, _ = one_se_pick(sub, measured[fit], space, names, _folds(int(fit.sum()), seed + 1 + int(f)))
        corr = fit_model(name, sub, measured[fit], space)
        out = {k: _take(v, test) for k, v in values.items()}
        pred[test] = out["sum"] if corr is None else corr.apply_features(out)
    return pred


def _beats(m: dict, ref: dict) -> bool:
    return m["mape"] < (1 - MIN_GAIN) * ref["mape"] - MIN_GAIN_PP and m["spearman"] >= ref["spearman"] - RANK_TOL


def choose(values: dict[str, np.ndarray], measured: np.ndarray, space, seed: int = 0,
           models: Sequence[str] | None = None) -> tuple[Any, dict]:
    """Pick a model on held-out folds (one-SE rule), check the pick by nested cross-validation,
    refit the kept one on all nets. The report says which rule decided and why."""
    from .evaluate import metrics

    n = len(measured)
    folds = _folds(n, seed)
    scored: dict[str, dict] = {}
    names = []
    for name in ["sum", *(models or candidates(space))]:
        p = n_params(name, space)
        scored[name] = {"params": p, "eligible": n >= NETS_PER_PARAM * p}
        if scored[name]["eligible"]:
            names.append(name)
        else:
            scored[name]["note"] = f"needs {NETS_PER_PARAM * p} nets ({NETS_PER_PARAM} × {p} parameters), got {n}"
    picked, pred = one_se_pick(values, measured, space, names, folds)
    for name, p in pred.items():
        scored[name]["held_out"] = metrics(p, measured)
    ref = scored["sum"]["held_out"]
    nested = (metrics(nested_predictions(values, measured, space, names, folds, seed), measured)
              if picked != "sum" else None)
    chosen = picked if nested is not None and _beats(nested, ref) else "sum"
    fig = lambda m: f"MAPE {m['mape']:.1f} %, Spearman {m['spearman']:.3f}"
    if chosen != "sum":
        verdict = (f"{chosen} correction kept ({RULE}): choosing and fitting, scored on nets it never saw, gives "
                   f"{fig(nested)} vs the plain sum's {fig(ref)}")
    elif picked == "sum":
        best = min(names, key=lambda m: scored[m]["held_out"]["mape"])
        verdict = ("correction rejected: no model's held-out error is lower than the plain sum's by more than one "
                   f"standard error and the {MIN_GAIN:.0%} / {MIN_GAIN_PP} point margin (lowest: {best}, {fig(scored[best]['held_out'])}; sum {fig(ref)}); "
                   f"the plain sum is used (rule: {RULE})")
    else:
        verdict = (f"correction rejected: {picked} was the one-SE pick, but the pick-then-fit procedure scored by "
                   f"nested cross-validation gives {fig(nested)} vs the plain sum's {fig(ref)} (it must be "
                   f"{MIN_GAIN:.0%} and {MIN_GAIN_PP} point lower, Spearman at most {RANK_TOL} worse); "
                   f"the plain sum is used (rule: {RULE})")
    corr = fit_model(chosen, values, measured, space)
    k = int(folds.max()) + 1
    return corr, {"folds": k, "n_held_out": int(round(n / k)), "n_fit": n - int(round(n / k)), "chosen": chosen,
                  "picked": picked, "rule": RULE, "held_out_choice": nested, "verdict": verdict,
                  "candidates": scored}
