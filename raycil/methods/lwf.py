"""LwF (Li & Hoiem, 2017) in the class-incremental setting: memory-free; cross-entropy over the
new classes' logits plus KD (T = 2) on the old classes' logits against the previous network.

``method.lwf.adaptive`` weighs the two as MFGR's Eq. 8 does (Xin et al.): (1 − λ) ℓ_ce + λ ℓ_nkd
with λ = t / (t + 1) at incremental step t (phase t + 1), so distillation gains weight as the
old classes outnumber the new; MFGR's generated-replay term joins with the same λ."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from raycil.data.protocol import PhaseContext
from raycil.methods.base import DistillationMixin, Method
from raycil.methods.settings import LwfConfig


def step_weight(ctx: PhaseContext) -> float:
    """λ = t / (t + 1) of MFGR Eq. 8 at incremental step t = phase − 1 (0 in the first phase)."""
    t = ctx.phase - 1
    return t / (t + 1)


class LwF(DistillationMixin, Method):
    settings: LwfConfig

    def loss(self, learner, x, y, ctx: PhaseContext) -> torch.Tensor:
        logits = learner.model(x)["logits"]
        new_ce = F.cross_entropy(logits[:, ctx.known: ctx.total], y - ctx.known)
        if self.settings.adaptive:
            lam = step_weight(ctx)
            return (1 - lam) * new_ce + lam * self.distillation(logits, x, ctx)
        return new_ce + self.distillation(logits, x, ctx)
