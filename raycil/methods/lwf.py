"""LwF (Li & Hoiem, 2017) in the class-incremental setting: memory-free; cross-entropy over the
new classes' logits plus KD (T = 2) on the old classes' logits against the previous network."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from raycil.data.protocol import PhaseContext
from raycil.methods.base import DistillationMixin, Method


class LwF(DistillationMixin, Method):
    name = "lwf"
    uses_memory = False

    def loss(self, learner, x, y, ctx: PhaseContext) -> torch.Tensor:
        logits = learner.model(x)["logits"]
        new_ce = F.cross_entropy(logits[:, ctx.known: ctx.total], y - ctx.known)
        return new_ce + self.distillation(logits, x, ctx)
