"""The CIL network: a backbone plus a classifier that grows with new classes, keeping old rows."""

from __future__ import annotations

import torch
from torch import nn

from raycil.models.backbones import Backbone


class GrowingLinear(nn.Module):
    """A linear classifier whose rows (one per class) are appended phase by phase."""

    def __init__(self, in_dim: int):
        super().__init__()
        self.in_dim = in_dim
        self.weight = nn.Parameter(torch.empty(0, in_dim))
        self.bias = nn.Parameter(torch.empty(0))

    @property
    def num_classes(self) -> int:
        return self.weight.shape[0]

    def expand(self, n_new: int) -> None:
        """Append ``n_new`` freshly initialised rows; existing rows are copied unchanged."""
        fresh = nn.Linear(self.in_dim, n_new).to(self.weight.device)
        self.weight = nn.Parameter(torch.cat([self.weight.data, fresh.weight.data]))
        self.bias = nn.Parameter(torch.cat([self.bias.data, fresh.bias.data]))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(features, self.weight, self.bias)


class IncrementalNet(nn.Module):
    """``forward(x)`` returns ``{"logits", "features", "fmaps"}``."""

    def __init__(self, backbone: Backbone, head: nn.Module | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = head if head is not None else GrowingLinear(backbone.out_dim)

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def expand(self, n_new: int) -> None:
        self.head.expand(n_new)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        fmaps, features = self.backbone(x)
        return {"logits": self.head(features), "features": features, "fmaps": fmaps}
