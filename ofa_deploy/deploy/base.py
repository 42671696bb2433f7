"""The backend-plugin interface. The core never imports a runtime: a backend is a plugin package
(ours live in the top-level backends/ folder) registered under the entry-point group
`ofa_deploy.backends`, exactly as a third-party package would register one.

A backend is small: an exporter (torch module → artifact file), a runner (artifact + inputs →
outputs, where the runtime runs on this host) and a measurer (artifact → LatencyStats). Shared
steps — the timing loop, output validation, the model card, the log line — live in the core.
"""
from __future__ import annotations

import json
import platform
import statistics
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..fileio import atomic_write_json, file_size_mb
from ..errors import BadArgumentError, check_number

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class MeasureSettings:
    """How to time a model. `mode='mlperf'` raises runs to ≥1024 and min_seconds to ≥60 and
    reports p90 as the headline figure."""

    threads: int = 1
    warmup: int = 10
    runs: int = 50
    min_seconds: float = 0.0
    cpu_affinity: tuple[int, ...] | None = None
    mode: str = "default"
    options: dict[str, Any] = field(default_factory=dict)   # backend-specific: use_gpu, serial, …

    def __post_init__(self):
        if self.mode not in ("default", "mlperf"):
            raise BadArgumentError(f"measure mode must be 'default' or 'mlperf', not {self.mode!r}")
        if self.mode == "mlperf":
            object.__setattr__(self, "runs", max(self.runs, 1024))
            object.__setattr__(self, "min_seconds", max(self.min_seconds, 60.0))
        check_number("min_seconds", self.min_seconds, minimum=0, unit="seconds")   # NaN would time forever
        if self.threads < 1 or self.runs < 1 or self.warmup < 0:
            raise BadArgumentError(f"threads and runs must be ≥1 and warmup ≥0 (got threads={self.threads}, "
                             f"runs={self.runs}, warmup={self.warmup})")

    def with_options(self, **options: Any) -> "MeasureSettings":
        return replace(self, options={**self.options, **options})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cpu_affinity"] = list(self.cpu_affinity) if self.cpu_affinity else None
        return d


@dataclass(frozen=True)
class LatencyStats:
    """Latency of repeated runs, in milliseconds."""

    count: int
    mean: float
    std: float
    median: float
    p90: float
    min: float
    max: float
    settings: dict[str, Any] = field(default_factory=dict)
    runtime: str = ""
    runtime_version: str = ""
    device: str = field(default_factory=platform.node)

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float], settings: MeasureSettings | dict | None = None,
                     runtime: str = "", runtime_version: str = "", device: str | None = None) -> "LatencyStats":
        a = np.asarray(samples_ms, dtype=np.float64)
        if a.size == 0:
            raise BadArgumentError("no latency samples to summarise")
        s = settings.to_dict() if isinstance(settings, MeasureSettings) else dict(settings or {})
        return cls(count=int(a.size), mean=float(a.mean()), std=float(a.std()),
                   median=float(np.median(a)), p90=float(np.percentile(a, 90)), min=float(a.min()),
                   max=float(a.max()), settings=s, runtime=runtime, runtime_version=runtime_version,
                   device=device if device is not None else platform.node())

    @property
    def headline(self) -> float:
        """The figure to compare: p90 in MLPerf mode, else the median."""
        return self.p90 if self.settings.get("mode") == "mlperf" else self.median

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LatencyStats":
        return cls(**d)


@dataclass
class Artifact:
    """An exported model on disk and what is needed to run it again."""

    path: Path
    backend: str
    format: str
    precision: str = "fp32"
    input_shape: tuple[int, ...] = ()
    input_name: str = "input"
    output_name: str = "logits"
    card: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)   # backend-specific (target, compiled lib, …)

    def __post_init__(self):
        self.path = Path(self.path)
        self.input_shape = tuple(self.input_shape)

    def __repr__(self) -> str:   # the card and extras are long: show what identifies the file
        return (f"Artifact('{self.path}', backend={self.backend!r}, format={self.format!r}, "
                f"precision={self.precision!r}, input_shape={self.input_shape})")

    @property
    def size_mb(self) -> float:
        """Size of the artifact and its companion files (e.g. OpenVINO's .bin)."""
        return file_size_mb(self.path) + sum(file_size_mb(p) for p in self.extra.get("companions", []))

    @property
    def sidecar(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d

    def save_sidecar(self) -> Path:
        """Write the model card and run info beside the artifact (`<file>.json`)."""
        return atomic_write_json(self.sidecar, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Artifact":
        """Reopen an artifact from its sidecar (path to the artifact or to the sidecar). An artifact
        that is itself JSON (accel's `model.accel.json`) is told from its sidecar by the sidecar's
        keys; a folder moved since export is followed (the artifact sits beside its sidecar)."""
        from ..errors import FileFormatError, MissingFileError

        path = Path(path)
        beside = path.with_name(path.name + ".json")
        side = beside if beside.is_file() or path.suffix != ".json" else path
        if not side.is_file():
            raise MissingFileError(f"{side} not found: an artifact is reopened from the .json sidecar "
                                    f"that export writes beside it")
        try:
            d = json.loads(side.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"{side} is not valid JSON ({exc}): it is the sidecar export wrote beside the "
                                  f"artifact; export the model again to get a good one") from exc
        if not isinstance(d, dict) or not {"path", "backend", "format"} <= set(d):
            raise FileFormatError(f"{side} is not an artifact sidecar (no path/backend/format): pass the artifact "
                                  f"or the <artifact>.json that export wrote beside it")
        recorded = Path(d["path"])
        if not recorded.exists() and (side.parent / recorded.name).exists():
            d["path"] = side.parent / recorded.name
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@runtime_checkable
class Backend(Protocol):
    """What a backend plugin provides. The entry point names an object with these members."""

    name: str
    formats: tuple[str, ...]          # artifact formats, e.g. ("onnx",) or ("mlmodel", "mlpackage")
    precisions: tuple[str, ...]       # subset of PRECISIONS
    install: str                      # the command that installs its runtime

    def check(self) -> None:
        """Raise BackendUnavailableError (with the install command) if the runtime is missing."""

    def versions(self) -> dict[str, str]:
        """Versions of the runtime/converter packages, for model cards and provenance."""

    def export(self, model, example_input, out_dir: Path, precision: str = "fp32",
               format: str | None = None, calibration=None, **options) -> Artifact:
        """Convert a torch module to an artifact under out_dir (no validation here: the pipeline
        validates against the torch model afterwards)."""

    def can_run(self, artifact: Artifact) -> bool:
        """Whether `run` works on this host for this artifact (Core ML: only on macOS)."""

    def run(self, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
        """Run the artifact on a batch (NCHW float32) and return the logits."""

    def measure(self, artifact: Artifact, settings: MeasureSettings) -> LatencyStats:
        """Time the artifact where it lives (this host, an adb device, an RPC server, a model)."""

    def embed_card(self, artifact: Artifact, card: dict[str, Any]) -> bool:
        """Write the model card into the artifact's own metadata where the format allows;
        return whether it did."""

    def validate_artifact(self, artifact: Artifact) -> dict[str, Any]:
        """Checks for artifacts that cannot run here (spec inputs/outputs/shapes/op count)."""
