"""Latency: official-format lookup tables, the vectorized predictor with calibration, the
resumable table builder, evaluation reports, and estimated device models."""
from .adapt import AdaptResult, adapt_table
from .fingerprint import host_fingerprint, table_host
from .sources import load_latency_table, predictor_for_device
from .table import LatencyTable, MissingOpsError

__all__ = ["AdaptResult", "adapt_table", "host_fingerprint", "table_host", "LatencyTable", "MissingOpsError", "load_latency_table", "predictor_for_device"]
