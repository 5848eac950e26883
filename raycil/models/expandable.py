"""A network of several backbones side by side (DER, Yan et al. 2021; FOSTER, Wang et al. 2022):
the embedding is the concatenation u = [Φ_1(x), ..., Φ_t(x)], the classifier H reads
all of it, and an auxiliary classifier H_a reads the newest backbone's part only.

A backbone whose parameters are all frozen stays in eval mode whenever the network is put in
training mode, so its batch-norm statistics never move either: an old extractor is unchanged
by later phases.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from raycil.models.backbones import Backbone
from raycil.models.network import GrowingLinear


def is_frozen(module: nn.Module) -> bool:
    return not any(p.requires_grad for p in module.parameters())


class ExpandableNet(nn.Module):
    """``forward(x)`` returns ``{"logits", "features", "fmaps"}`` (+ ``"aux_logits"`` with an aux head);
    ``features`` / ``fmaps`` concatenate the backbones' embeddings / feature maps along channels."""

    def __init__(self, backbones: list[Backbone], head: GrowingLinear | None = None):
        super().__init__()
        self.backbones = nn.ModuleList(backbones)
        self.head = head if head is not None else GrowingLinear(self.feature_dim)
        self.aux: nn.Linear | None = None

    @property
    def block_dim(self) -> int:
        """Embedding width of one backbone (the newest one's)."""
        return self.backbones[-1].out_dim

    @property
    def feature_dim(self) -> int:
        return sum(b.out_dim for b in self.backbones)

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def expand(self, n_new: int) -> None:
        self.head.expand(n_new)

    def add_backbone(self) -> None:
        """Append a trainable copy of the newest backbone and widen the classifier to read it:
        existing weights are kept, the columns of the new features start freshly initialised."""
        new = copy.deepcopy(self.backbones[-1]).requires_grad_(True)
        self.backbones.append(new)
        old = self.head
        fresh = nn.Linear(self.feature_dim, old.num_classes).to(old.weight.device)
        head = GrowingLinear(self.feature_dim).to(old.weight.device)
        fresh.weight.data[:, : old.in_dim] = old.weight.data
        head.weight = nn.Parameter(fresh.weight.data)
        head.bias = nn.Parameter(old.bias.data.clone())
        self.head = head

    def freeze_backbones(self, keep_last: bool) -> None:
        """Freeze every backbone (all but the newest if ``keep_last``)."""
        frozen = self.backbones[:-1] if keep_last else self.backbones
        for b in frozen:
            b.requires_grad_(False)

    def set_aux(self, n_out: int | None) -> None:
        """An auxiliary classifier with ``n_out`` outputs on the newest backbone's embedding (or none)."""
        device = self.head.weight.device
        self.aux = None if n_out is None else nn.Linear(self.block_dim, n_out).to(device)

    def train(self, mode: bool = True) -> ExpandableNet:
        super().train(mode)
        if mode:
            for b in self.backbones:
                if is_frozen(b):
                    b.eval()
        return self

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outs = [b(x) for b in self.backbones]
        features = torch.cat([f for _, f in outs], dim=1)
        out = {"logits": self.head(features), "features": features,
               "fmaps": torch.cat([m for m, _ in outs], dim=1)}
        if self.aux is not None:
            out["aux_logits"] = self.aux(outs[-1][1])
        return out
