"""Latency: official-format lookup tables, the vectorized predictor with calibration, the
resumable table builder, evaluation reports, and estimated device models."""
from .sources import load_latency_table, predictor_for_device
from .table import LatencyTable, MissingOpsError

__all__ = ["LatencyTable", "MissingOpsError", "load_latency_table", "predictor_for_device"]
