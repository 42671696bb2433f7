"""ofa_deploy: Once-for-All supernets to ready-to-ship models.

    import ofa_deploy
    model = ofa_deploy.get_model(device="pixel1", latency=40)
    ofa_deploy.export(model, "tflite", "out/")

Public names are imported lazily, so `import ofa_deploy` stays cheap and never imports a runtime.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name → module that owns it
_API = {
    "ArchConfig": "ofa_deploy.arch",
    "SearchSpace": "ofa_deploy.arch",
    "ArchBatch": "ofa_deploy.arch",
    "get_supernet": "ofa_deploy.supernets",
    "recalibrate_bn": "ofa_deploy.bn_calibration",
    "count_macs": "ofa_deploy.profile",
    "count_params": "ofa_deploy.profile",
    "list_supernets": "ofa_deploy.registry",
    "list_models": "ofa_deploy.zoo",
    "list_devices": "ofa_deploy.zoo",
    "get_model": "ofa_deploy.zoo",
    "search": "ofa_deploy.search",
    "load_latency_table": "ofa_deploy.latency",
    "adapt_table": "ofa_deploy.latency",
    "load_accuracy_predictor": "ofa_deploy.accuracy",
    "list_backends": "ofa_deploy.deploy",
    "get_backend": "ofa_deploy.deploy",
    "export": "ofa_deploy.deploy.export",
    "benchmark": "ofa_deploy.deploy.benchmark",
    "resolve_preprocessing": "ofa_deploy.preprocess",
    "create_transform": "ofa_deploy.preprocess",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ofa_deploy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
