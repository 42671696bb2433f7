"""An analytical latency model of a systolic-array accelerator — an ESTIMATE, not a measurement.

For FPGA/ASIC-style accelerators that no runtime here targets, latency is estimated layer by
layer from the layer list of a traced torch module (`ofa_deploy.plugins.shared.trace_layers`):

* compute: convolutions and linears are mapped to a rows×cols PE array as GEMMs (M = output
  pixels, K = Cin·kh·kw, N = Cout). SCALE-Sim's analytical cycle count (Samajdar et al., "SCALE-Sim:
  Systolic CNN Accelerator Simulator", arXiv 1811.02883) is used per fold: `2·R + C + T − 2`
  cycles, where T is the length streamed through the array. Weight-stationary holds a K×N tile
  (T = M); output-stationary holds an M×N tile (T = K). Depthwise convs put channels on the
  columns (one input stream per column, as dedicated depthwise engines do), so they fold over
  ceil(C/cols). Pooling and element-wise ops (residual adds, SE scaling) run on a vector unit
  of `vector_lanes` lanes. Activations and batch norm are fused into the preceding layer.
* memory: a layer's working set is weights + inputs + outputs in bytes. When it fits the
  on-chip buffer, activations passed between consecutive fitting layers stay on chip; otherwise
  they go through DRAM, and weights are re-fetched once per buffer-sized input tile when they
  fill more than half the buffer. With `weights_resident` (Edge TPU parameter caching) weights
  cost no traffic when the whole model's weights fit the buffer.
* roofline: a layer takes max(compute, memory) cycles — double buffering is assumed to overlap
  the two — and is labelled compute- or memory-bound. Latency = Σ cycles / clock.

Limits: no batch > 1 pipelining, no inter-layer fusion beyond activation residency, no DRAM
latency or bank conflicts, no control overhead, perfect double buffering, dataflows idealised
(Eyeriss's row-stationary dataflow is not modelled; its config uses weight-stationary). Use it to
rank subnets and study trade-offs, never as a device figure.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from ofa_deploy.plugins.shared import OptionError, json_option

DATAFLOWS = ("weight_stationary", "output_stationary")
MODEL_VERSION = "1"


@dataclass(frozen=True)
class AccelConfig:
    """An accelerator's resources; `source` says where the figures come from."""

    name: str
    rows: int
    cols: int
    clock_mhz: float
    buffer_kb: float
    dram_gbps: float
    bytes_per_elem: int
    dataflow: str = "weight_stationary"
    vector_lanes: int = 0            # 0: one lane per PE column
    weights_resident: bool = False
    source: str = ""

    def __post_init__(self):
        if self.dataflow not in DATAFLOWS:
            raise OptionError(f"accelerator dataflow {self.dataflow!r} is not modelled; expected one of {DATAFLOWS}")
        for f in ("rows", "cols", "clock_mhz", "buffer_kb", "dram_gbps", "bytes_per_elem"):
            if not getattr(self, f) > 0:
                raise OptionError(f"accelerator {self.name!r}: {f} must be > 0, got {getattr(self, f)}")

    @property
    def lanes(self) -> int:
        return self.vector_lanes or self.cols

    @property
    def buffer_bytes(self) -> float:
        return self.buffer_kb * 1024

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ACCELERATORS: dict[str, AccelConfig] = {c.name: c for c in (
    AccelConfig("eyeriss", rows=12, cols=14, clock_mhz=200, buffer_kb=108, dram_gbps=1.6, bytes_per_elem=2,
                source="12×14 PEs, 200 MHz, 108 KB global buffer, 16-bit fixed point: Chen et al., 'Eyeriss: An "
                       "Energy-Efficient Reconfigurable Accelerator for Deep CNNs', ISSCC 2016 / JSSC 2017. DRAM "
                       "bandwidth 1.6 GB/s is an assumption (the paper reports traffic, not a link rate)."),
    AccelConfig("edgetpu", rows=64, cols=64, clock_mhz=480, buffer_kb=8192, dram_gbps=0.5, bytes_per_elem=1,
                weights_resident=True,
                source="64×64 int8 MACs at 480 MHz = 3.9 TOPS, matching Coral's published 4 TOPS; ~8 MB on-chip "
                       "SRAM that caches parameters (Coral docs, 'parameter data caching'); 0.5 GB/s host link "
                       "(PCIe Gen2 ×1 of the M.2/mini-PCIe modules). Array shape and clock are inferred, not "
                       "published by Google."),
)}


def get_accelerator(value: Any = None) -> AccelConfig:
    """A named config ('eyeriss', 'edgetpu'), a dict/JSON/.json file of fields, or one with a
    'base' name and overrides, e.g. {"base": "eyeriss", "dram_gbps": 0.8}."""
    if isinstance(value, AccelConfig):
        return value
    if value is None or (isinstance(value, str) and value in ACCELERATORS):
        return ACCELERATORS[value or "eyeriss"]
    if isinstance(value, str) and not value.strip().startswith("{") and not value.endswith(".json"):
        raise OptionError(f"unknown accelerator {value!r}; known: {sorted(ACCELERATORS)}, or pass a dict of "
                          f"{list(AccelConfig.__dataclass_fields__)}")
    d = json_option(value, "accelerator config")
    base = d.pop("base", None)
    try:
        if base is not None:
            return replace(get_accelerator(base), **{"name": f"{base}*", **d})
        return AccelConfig(**d)
    except TypeError as exc:
        raise OptionError(f"accelerator config {d} is incomplete or has unknown fields ({exc}); expected "
                          f"{list(AccelConfig.__dataclass_fields__)} or a 'base' name with overrides") from None


def _numel(shape: list[int]) -> int:
    return math.prod(shape) if shape else 0


def _fold_cycles(cfg: AccelConfig, m: int, k: int, n: int, parallel_cols: int = 0) -> int:
    """SCALE-Sim cycles of an M×K·K×N GEMM; parallel_cols > 0: depthwise, channels over columns."""
    r, c = cfg.rows, cfg.cols
    cols_folds = math.ceil((parallel_cols or n) / c)
    if cfg.dataflow == "weight_stationary":
        return math.ceil(k / r) * cols_folds * (2 * r + c + m - 2)
    return math.ceil(m / r) * cols_folds * (2 * r + c + k - 2)


def compute_cycles(cfg: AccelConfig, layer: dict[str, Any]) -> int:
    """Cycles the PE array (or the vector unit) needs for one layer, memory ignored."""
    kind = layer["kind"]
    if kind in ("conv", "dwconv"):
        n, cout, ho, wo = layer["out"]
        w = layer["weight"]
        m = n * ho * wo
        if kind == "dwconv":
            return _fold_cycles(cfg, m, w[2] * w[3], 1, parallel_cols=cout)
        groups = layer.get("groups", 1)
        return groups * _fold_cycles(cfg, m, w[1] * w[2] * w[3], cout // groups)
    if kind == "linear":
        out = layer["out"]
        return _fold_cycles(cfg, _numel(out[:-1]), layer["input"][-1], out[-1])
    if kind == "pool":
        return math.ceil(_numel(layer["input"]) / cfg.lanes)
    if kind == "eltwise":
        return math.ceil(_numel(layer["out"]) * max(1, layer.get("operands", 2) - 1) / cfg.lanes)
    return 0


def estimate(layers: list[dict[str, Any]], cfg: AccelConfig) -> dict[str, Any]:
    """Per-layer cycles, DRAM bytes and bound, plus totals and latency in ms (an estimate)."""
    work = [layer for layer in layers if layer["kind"] != "fused"]
    bpe = cfg.bytes_per_elem
    total_w = sum(layer["weight_elems"] for layer in work) * bpe
    free_weights = cfg.weights_resident and total_w <= cfg.buffer_bytes
    sizes = [(layer["weight_elems"] * bpe, _numel(layer["input"]) * bpe * max(1, layer.get("operands", 1)),
              _numel(layer["out"]) * bpe) for layer in work]
    fits = [sum(s) <= cfg.buffer_bytes for s in sizes]
    hz = cfg.clock_mhz * 1e6
    rows = []
    for i, (layer, (wb, ib, ob)) in enumerate(zip(work, sizes)):
        in_dram = i == 0 or not (fits[i] and fits[i - 1])
        out_dram = i == len(work) - 1 or not (fits[i] and fits[i + 1])
        refetch = 1 if fits[i] or wb <= cfg.buffer_bytes / 2 else math.ceil(ib / (cfg.buffer_bytes / 2))
        dram = (0 if free_weights else wb * max(1, refetch)) + (ib if in_dram else 0) + (ob if out_dram else 0)
        comp = compute_cycles(cfg, layer)
        mem = math.ceil(dram / (cfg.dram_gbps * 1e9) * hz)
        cycles = max(comp, mem)
        util = layer["macs"] / (cycles * cfg.rows * cfg.cols) if cycles and layer["macs"] else 0.0
        rows.append({"name": layer["name"], "kind": layer["kind"], "macs": layer["macs"], "dram_bytes": int(dram),
                     "compute_cycles": comp, "memory_cycles": mem, "cycles": cycles,
                     "bound": "compute" if comp >= mem else "memory", "pe_utilization": round(util, 4),
                     "ms": cycles / hz * 1e3})
    cycles = sum(r["cycles"] for r in rows)
    return {"estimate": True, "model": f"systolic-roofline v{MODEL_VERSION}", "accelerator": cfg.to_dict(),
            "cycles": cycles, "latency_ms": cycles / hz * 1e3, "macs": sum(r["macs"] for r in rows),
            "dram_bytes": sum(r["dram_bytes"] for r in rows),
            "memory_bound_layers": sum(r["bound"] == "memory" for r in rows), "layers": rows}
