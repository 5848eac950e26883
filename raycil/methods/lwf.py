"""LwF (Li & Hoiem, 2017) in the class-incremental setting: memory-free; cross-entropy over the
new classes' logits plus KD (T = 2) on the old classes' logits against the previous network."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from raycil.methods.base import DistillationMixin, Method, PhaseContext
from raycil.methods.losses import kd_loss


class LwF(DistillationMixin, Method):
    uses_memory = False

    def before_phase(self, learner, ctx: PhaseContext) -> None:
        if not ctx.is_first:
            self.snapshot_teacher(learner.model)
        super().before_phase(learner, ctx)

    def loss(self, learner, x, y, ctx: PhaseContext) -> torch.Tensor:
        logits = learner.model(x)["logits"]
        loss = F.cross_entropy(logits[:, ctx.known: ctx.total], y - ctx.known)
        if self.teacher is not None and ctx.known > 0:
            m = self.cfg.method
            loss = loss + m.kd_weight * kd_loss(logits[:, : ctx.known], self.teacher_logits(x), m.kd_temperature)
        return loss
