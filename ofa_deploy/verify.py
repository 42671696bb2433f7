"""Closed-loop `get_model`: export the winner as it will ship (the device's backend and format),
measure it here with the one measuring method (`deploy.timing.measure_artifact`), and when the
measured median is over budget scale the latency limit by what the measurement taught
(budget × predicted / measured) with a margin that grows every round (margin, margin², …, so a net
at the edge of the host's noise is not retried at the same limit), and search again — bounded
rounds. Every measurement is appended to this host's adaptation log in the user cache."""
from __future__ import annotations

import json
import platform
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .deploy.base import MeasureSettings
from .errors import BackendUnavailableError, InfeasibleError, OfaDeployError
from .log import LOGGER


class VerificationError(OfaDeployError):
    """No subnet could be verified under the budget (or a verify round failed); carries the best measured ms."""

    def __init__(self, message: str, best_ms: float | None = None, rounds: list[dict] | None = None):
        self.best_ms, self.rounds = best_ms, list(rounds or [])
        super().__init__(message)


@dataclass(frozen=True)
class VerifyConfig:
    """How the loop measures: `sessions` fresh runtime sessions of `settings` each; the figure is the
    median of session medians, the spread (max − min) / median of them."""

    rounds: int = 4
    sessions: int = 3
    settings: MeasureSettings = field(default_factory=lambda: MeasureSettings(warmup=20, runs=100))
    margin: float = 0.97   # round k's next limit sits margin**k inside what the measurement allows

    def margin_after(self, k: int) -> float:
        """The margin applied after round `k` (1-based): it grows so retries do not repeat a limit."""
        return self.margin ** k

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "sessions": self.sessions, "margin": self.margin,
                "settings": self.settings.to_dict()}


@dataclass(frozen=True)
class Measurement:
    median: float
    p90: float
    spread: float
    sessions: tuple[float, ...]
    busy: bool = False
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"median_ms": self.median, "p90_ms": self.p90, "spread": self.spread,
                "session_medians_ms": list(self.sessions), "busy": self.busy, "method": self.method}


def measuring_backend(device: str | None):
    """The installed backend that can time `device` from this host, or None (estimated devices,
    missing runtimes, phones without an adb serial)."""
    from .deploy import get_backend
    from .registry import DEVICES

    if device is None or device not in DEVICES:
        return None
    rec = DEVICES.get(device)
    remote = any(k in rec.settings for k in ("serial", "rpc", "tracker"))
    if rec.backend in ("none", "accel") or (rec.latency_source != "measured" and not remote):
        return None
    try:
        return get_backend(rec.backend)
    except (BackendUnavailableError, OfaDeployError):
        return None


def measure_model(model, backend, device_settings: dict[str, Any], config: VerifyConfig) -> Measurement:
    """Export `model` with `backend` into a scratch folder (removed after) and time it by the one
    measuring method (fresh sessions, warm-up until stable, busy flag)."""
    from .deploy.export import export
    from .deploy.timing import measure_artifact, method_line
    from .log import steps_muted

    settings = config.settings
    threads = device_settings.get("threads")
    if threads:
        from dataclasses import replace

        settings = replace(settings, threads=int(threads))
    extra = {k: v for k, v in device_settings.items() if k in ("serial", "rpc", "tracker", "use_gpu")}
    if extra:
        settings = settings.with_options(**extra)
    with tempfile.TemporaryDirectory(prefix="ofa_verify_") as tmp:
        try:
            with steps_muted():
                art = export(model, backend.name, tmp, validate=False)
        except Exception as exc:
            raise VerificationError(f"verify: exporting the searched subnet with {backend.name} failed ({exc}); "
                                    f"nothing was written. Fix the backend or pass verify=False "
                                    f"(ofa-deploy get --no-verify)") from exc
        stats = measure_artifact(backend, art, settings, sessions=config.sessions)
    medians = tuple(float(m) for m in stats.settings["session_medians"])
    return Measurement(float(stats.median), float(stats.p90), float(stats.settings["spread"]), medians,
                       bool(stats.settings.get("busy")), method_line(stats))


def adaptation_log(device: str, supernet: str) -> Path:
    """This host's measured-subnet log for (device, supernet), in the user cache."""
    from .hub import cache_dir

    host = "".join(c if c.isalnum() or c in "-_." else "_" for c in platform.node() or "host")
    return cache_dir() / "adaptation" / host / supernet / f"{device}.jsonl"


def record_measurement(device: str, supernet: str, entry: dict[str, Any]) -> Path:
    """Append one measured subnet to the adaptation log (rewritten atomically, never half a line)."""
    from .fileio import atomic_write_text

    path = adaptation_log(device, supernet)
    old = path.read_text() if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    return atomic_write_text(path, old + json.dumps(entry, sort_keys=True) + "\n")


def verify_loop(budget: float, device: str, supernet: str, outcome, build: Callable[[Any], Any],
                search: Callable[[float], Any], config: VerifyConfig | None = None):
    """(outcome, verification record): the first searched subnet whose measured median is ≤ budget.

    outcome: the unverified search outcome (with .arch and .values['latency']); build(outcome) →
    a model to export; search(limit) → a new outcome for a tighter predicted-latency limit."""
    from .registry import DEVICES

    config = config or VerifyConfig()
    backend = measuring_backend(device)
    if backend is None:
        raise VerificationError(f"device {device!r} cannot be measured from this host; pass verify=False")
    dev = DEVICES.get(device)
    limit, rounds = float(budget), []
    for k in range(1, config.rounds + 1):
        m = measure_model(build(outcome), backend, dev.settings, config)
        predicted = float(outcome.values["latency"])
        rounds.append({"round": k, "limit_ms": limit, "arch": outcome.arch.short(), "predicted_ms": predicted,
                       **m.to_dict()})
        record_measurement(dev.name, supernet, {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "host": platform.node(),
            "device": dev.name, "backend": backend.name, "supernet": supernet, "arch": outcome.arch.to_dict(),
            "predicted_ms": predicted, **m.to_dict(), "settings": config.to_dict()})
        LOGGER.info(f"verify: round {k}: {outcome.arch.short()} predicted {predicted:.3f} ms, measured "
                    f"{m.median:.3f} ms (spread {100 * m.spread:.1f} %{', machine busy' if m.busy else ''}) "
                    f"{'≤' if m.median <= budget else '>'} budget {budget:g} ms")
        if m.median <= budget:
            return outcome, _record(budget, m, rounds, config, backend.name, verified=True)
        # the measurement says the predictor is off by measured/predicted here: apply it to the budget
        margin = config.margin_after(k)
        limit = min(limit * margin, budget * predicted / m.median * margin)
        if k == config.rounds:
            break
        try:
            outcome = search(limit)
        except InfeasibleError:
            break
    best = min(rounds, key=lambda r: r["median_ms"])
    noisy = " This host was busy while measuring (other load), so the figures are noisy; retry on a " \
            "quiet machine." if any(r.get("busy") for r in rounds) else ""
    raise VerificationError(
        f"no subnet of {supernet} could be verified under {budget:g} ms on {dev.name} in {len(rounds)} rounds: "
        f"the best measured median was {best['median_ms']:.3f} ms ({best['arch']}, predicted "
        f"{best['predicted_ms']:.3f} ms).{noisy} Raise the budget, or pass verify=False for the unverified pick",
        best_ms=best["median_ms"], rounds=rounds)


def _record(budget, m: Measurement, rounds, config: VerifyConfig, backend: str, verified: bool) -> dict[str, Any]:
    return {"verified": verified, "budget_ms": budget, **m.to_dict(), "rounds": len(rounds), "history": rounds,
            "backend": backend, "host": platform.node(), "method": config.to_dict(),
            "correction": rounds[-1]["limit_ms"] / budget}


def unverified_record(reason: str) -> dict[str, Any]:
    """What the card says when the figure was not measured."""
    return {"verified": False, "reason": reason}
