"""WA (Zhao et al., "Maintaining Discrimination and Fairness in Class Incremental Learning", CVPR 2020).

Implemented:
- training with L = (1 − λ)·L_CE + λ·L_KD, λ = |C_old| / |C_old ∪ C_new|, KD at
  temperature T = ``method.kd_temperature`` (2) on the old classes' logits against the previous
  network (:class:`DistillationMixin`);
- weight clipping (``method.wa.clip_weights``): the FC weights are clipped to be non-negative
  after each optimisation step, in every phase;
- weight aligning after each incremental phase's training, before the memory update:
  Ŵ_new = γ·W_new with γ = Mean(||W_old||) / Mean(||W_new||) over the classifier's rows.

The FC layer keeps its (trained, unaligned) bias, as in the PyCIL implementation; the paper
writes the logits without one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raycil.data.protocol import PhaseContext
from raycil.methods.base import DistillationMixin, Method
from raycil.methods.settings import WaConfig


@torch.no_grad()
def align_weights(weight: torch.Tensor, known: int, total: int) -> float:
    """WA weight aligning, in place: scale rows ``known..total-1`` so that their mean norm equals the mean
    norm of rows ``0..known-1``; returns γ."""
    norms = weight[:total].norm(dim=1)
    gamma = float(norms[:known].mean() / norms[known:total].mean())
    weight[known:total] *= gamma
    return gamma


class WA(DistillationMixin, Method):
    settings: WaConfig

    def loss(self, learner, x, y, ctx: PhaseContext) -> torch.Tensor:
        logits = learner.model(x)["logits"]
        ce = F.cross_entropy(logits[:, : ctx.total], y)
        if ctx.known == 0:
            return ce
        lam = ctx.known / ctx.total
        return (1 - lam) * ce + lam * self.distillation(logits, x, ctx)

    def after_step(self, model: nn.Module) -> None:
        if self.settings.clip_weights:
            model.head.weight.data.clamp_(min=0)

    def after_training(self, learner, ctx: PhaseContext, images, labels) -> None:
        if not ctx.is_first:
            align_weights(learner.model.head.weight.data, ctx.known, ctx.total)
