"""Cosine-normalised classifier with a learnable scale (LUCIR, Hou et al. CVPR 2019).

    p_i(x) = exp(η <θ̄_i, f̄(x)>) / Σ_j exp(η <θ̄_j, f̄(x)>),   θ̄ = θ / ||θ||,  f̄ = f / ||f||

so every logit η·cos lies in [-|η|, |η|]. Class embeddings θ are kept in one block per phase, so
a method can freeze the old classes' block (LUCIR's released code trains old embeddings with lr 0).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CosineLinear(nn.Module):
    """``forward(f) = η · cos(θ_i, f)`` over a growing list of class-embedding blocks."""

    def __init__(self, in_dim: int, scale: float = 1.0):
        super().__init__()
        self.in_dim = in_dim
        self.blocks = nn.ParameterList()
        self.scale = nn.Parameter(torch.tensor(float(scale)))

    @property
    def num_classes(self) -> int:
        return sum(b.shape[0] for b in self.blocks)

    @property
    def weight(self) -> torch.Tensor:
        """All class embeddings θ, one row per class."""
        if not len(self.blocks):
            return self.scale.new_empty(0, self.in_dim)
        return torch.cat(list(self.blocks))

    def expand(self, n_new: int) -> None:
        """Append a block of ``n_new`` class embeddings, uniform in ±1/sqrt(in_dim) as in LUCIR."""
        bound = 1.0 / math.sqrt(self.in_dim)
        fresh = torch.empty(n_new, self.in_dim, device=self.scale.device).uniform_(-bound, bound)
        self.blocks.append(nn.Parameter(fresh))

    def freeze_old(self) -> None:
        """Stop training every block but the newest (the old classes' embeddings)."""
        for block in list(self.blocks)[:-1]:
            block.requires_grad_(False)

    def cosine(self, features: torch.Tensor) -> torch.Tensor:
        """<θ̄_i, f̄(x)> for every class i, in [-1, 1]."""
        return F.linear(F.normalize(features, dim=1), F.normalize(self.weight, dim=1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.scale * self.cosine(features)
