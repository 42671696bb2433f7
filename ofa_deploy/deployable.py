"""`DeployableModel`: what `get_model` returns — a static net (a submodule) with its typed card,
arch and input shape, and real `export`/`benchmark` methods. A plain module: it pickles, deep-copies,
`torch.save`s and prints like any other."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from .arch import ArchConfig
from .card import ModelCard
from .errors import BadArgumentError


class DeployableModel(nn.Module):
    """A static subnet ready to deploy: `model(x)` runs it; `model.card` says what it is."""

    def __init__(self, net: nn.Module, card: ModelCard | Mapping[str, Any], arch: ArchConfig | None = None,
                 input_shape: Sequence[int] | None = None):
        super().__init__()
        self.net = net
        self.card = ModelCard.from_dict(card)
        self.arch = arch
        if input_shape is None:
            if arch is None and self.card.resolution is None:
                raise BadArgumentError("DeployableModel needs input_shape, an arch or a card with a resolution")
            r = arch.r if arch is not None else self.card.resolution
            input_shape = (1, self.card.in_channels, r, r)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @property
    def config(self) -> dict[str, Any] | None:
        """The static net's net.config (what save_model stores to rebuild it)."""
        config = getattr(self.net, "config", None)
        return config if isinstance(config, dict) else None

    @property
    def transform(self):
        """uint8 images → this model's input, as its card's preprocessing says (ofa_deploy.preprocess)."""
        from .preprocess import create_transform, resolve_preprocessing

        return create_transform(resolve_preprocessing(self))

    def with_card(self, card: ModelCard) -> "DeployableModel":
        """This model (same weights) carrying `card` instead."""
        return DeployableModel(self.net, card, self.arch, self.input_shape)

    def export(self, format: str, out_dir: str | Path = "export", precision: str = "fp32", **kwargs):
        """Export this model through the backend plugin for `format` (see ofa_deploy.export)."""
        from .deploy.export import export

        return export(self, format, out_dir, precision=precision, **kwargs)

    def benchmark(self, backends: Sequence[str] | None = None, **kwargs):
        """Export and measure this model on each backend (see ofa_deploy.benchmark)."""
        from .deploy.benchmark import benchmark

        return benchmark(self, backends=backends, **kwargs)

    def extra_repr(self) -> str:
        arch = self.card.arch_short or (self.arch.short() if self.arch is not None else "")
        return f"name={self.card.name!r}, arch={arch!r}, input_shape={self.input_shape}"
