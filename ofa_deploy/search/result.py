"""What a search returns: the best arch with its predicted accuracy and every constrained value
(with where those numbers come from), and — in Pareto mode — one such point per budget."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..arch import ArchConfig
from ..fileio import atomic_write_json


@dataclass
class SearchResult:
    """The best subnet found under one set of limits."""

    supernet: str
    arch: ArchConfig
    score: float                                  # predicted top-1 fraction (or a proxy score)
    values: dict[str, float]                      # constraint name → value of `arch`
    limits: dict[str, float]                      # constraint name → limit
    accuracy: dict[str, Any] = field(default_factory=dict)   # predictor: source, provenance
    latency: dict[str, Any] = field(default_factory=dict)    # latency model: device, source, provenance
    macs: float | None = None
    params: float | None = None
    seconds: float = 0.0
    seed: int = 0
    resolutions: list[int] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)       # best score after each generation
    smallest: dict[str, float] = field(default_factory=dict) # smallest reachable value per constraint
    stats: dict[str, Any] = field(default_factory=dict)
    cache_key: str = ""

    @property
    def predicted_accuracy(self) -> float | None:
        """Predicted top-1 as a fraction, or None when the objective was a proxy score."""
        return self.score if self.accuracy.get("is_accuracy", True) else None

    @property
    def latency_ms(self) -> float | None:
        return self.values.get("latency")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["arch"] = self.arch.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SearchResult":
        return cls(**{**d, "arch": ArchConfig.from_dict(d["arch"])})

    def __repr__(self) -> str:
        return f"SearchResult({self.supernet}, {self.summary()})"

    def summary(self) -> str:
        acc = f"top-1 {100 * self.score:.2f}%" if self.predicted_accuracy is not None else f"score {self.score:.4f}"
        vals = ", ".join(f"{k} {_fmt(k, v)} (≤ {_fmt(k, self.limits[k])})" for k, v in self.values.items())
        return f"{self.arch.short()}: predicted {acc}; {vals}"


@dataclass
class ParetoResult:
    """The accuracy–latency front: one SearchResult per budget, plus the final populations."""

    points: list[SearchResult]
    cloud: dict[str, list[float]] = field(default_factory=dict)  # 'latency', 'score', 'budget' of the populations
    seconds: float = 0.0

    @property
    def budgets(self) -> list[float]:
        return [p.limits["latency"] for p in self.points]

    def __iter__(self):
        """Over the front's points (one SearchResult per budget)."""
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int) -> SearchResult:
        return self.points[i]

    def __repr__(self) -> str:
        lat = [p.values.get("latency") for p in self.points]
        span = f", latency {min(lat):.3g}–{max(lat):.3g} ms" if lat and None not in lat else ""
        return f"ParetoResult({len(self.points)} points{span}, {self.seconds:.1f}s)"

    def to_dict(self) -> dict[str, Any]:
        return {"points": [p.to_dict() for p in self.points], "cloud": self.cloud, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ParetoResult":
        return cls([SearchResult.from_dict(p) for p in d["points"]], d.get("cloud", {}), d.get("seconds", 0.0))

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    def plot(self, path: str | Path, published: list[dict[str, Any]] | None = None, title: str | None = None) -> Path:
        """Draw the front as a PNG (see search.pareto.plot_front)."""
        from .pareto import plot_front

        return plot_front(self, path, published, title)


def _fmt(name: str, v: float) -> str:
    from .constraints import format_ms

    return format_ms(v) if name == "latency" else f"{v / 1e6:.1f}M"
