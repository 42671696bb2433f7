"""The artifact's model card: the model's own `ModelCard` (ofa_deploy/card.py, the one builder) plus
the export facts. Embedded in the artifact where the format allows, always beside it as JSON."""
from __future__ import annotations

from typing import Any

from ..card import CARD_KEY, ModelCard
from .base import Artifact

__all__ = ["CARD_KEY", "model_card"]


def model_card(model, artifact: Artifact, versions: dict[str, str], extra: dict[str, Any] | None = None) -> dict:
    """The JSON card of `artifact`: what `model.card` says, with `extra` and the export facts."""
    return ModelCard.from_dict(getattr(model, "card", None)).exported(artifact, versions, extra).to_dict()
