"""FT: fine-tuning on D_i ∪ memory with cross-entropy over all seen classes (the baseline of
SS-IL §3 and of every CIL paper's tables). ``method.finetune.masked``: PyCIL's finetune instead,
memory-free, with cross-entropy over the new classes' logits only (old logits masked out)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from raycil.data.protocol import PhaseContext
from raycil.methods.base import Method
from raycil.methods.settings import FinetuneConfig


class FineTune(Method):
    """Cross-entropy over all seen classes, or over the new classes' logits when masked."""

    settings: FinetuneConfig

    def loss(self, learner, x: torch.Tensor, y: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        if not self.settings.masked:
            return super().loss(learner, x, y, ctx)
        logits = learner.model(x)["logits"]
        return F.cross_entropy(logits[:, ctx.known: ctx.total], y - ctx.known)
