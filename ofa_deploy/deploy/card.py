"""The model card every artifact carries: what the net is, where its numbers come from, and which
tools made it. Embedded in the artifact where the format allows, always beside it as JSON."""
from __future__ import annotations

import platform
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from ..fileio import sha256_file
from .base import Artifact

CARD_KEY = "ofa_deploy.card"   # metadata key used by every format that holds key/value strings


def model_card(model, artifact: Artifact, versions: dict[str, str], extra: dict[str, Any] | None = None) -> dict:
    """Merge what the model knows about itself (`model.card`, set by get_model) with export facts."""
    card: dict[str, Any] = dict(getattr(model, "card", None) or {})
    card.update(extra or {})
    card.update({
        "format": artifact.format,
        "backend": artifact.backend,
        "precision": artifact.precision,
        "input_shape": list(artifact.input_shape),
        "input_name": artifact.input_name,
        "output_name": artifact.output_name,
        "tools": {"ofa-deploy": _version("ofa-deploy"), "torch": _version("torch"), **versions},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
    })
    if artifact.path.is_file():
        card["sha256"] = sha256_file(artifact.path)
    return card


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "unknown"
