"""FT: fine-tuning on D_i ∪ memory with cross-entropy over all seen classes (the baseline of
SS-IL §3 and of every CIL paper's tables). ``method.finetune.masked``: PyCIL's finetune instead,
memory-free, with cross-entropy over the new classes' logits only (old logits masked out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from raycil.data.protocol import PhaseContext
from raycil.methods.base import Method
from raycil.schema import Strict

if TYPE_CHECKING:
    from raycil.config import ExperimentConfig


class FinetuneConfig(Strict):
    """``method.finetune``: ``masked``: cross-entropy over the new classes' logits (needs
    ``memory.mode: none``, as PyCIL's finetune keeps no exemplar)."""

    masked: bool = False


class FineTune(Method):
    """Cross-entropy over all seen classes, or over the new classes' logits when masked."""

    name = "finetune"
    settings = FinetuneConfig

    @classmethod
    def check(cls, cfg: ExperimentConfig) -> None:
        if cfg.method.finetune.masked and cfg.memory.mode != "none":
            raise ValueError("method.finetune.masked: the masked cross-entropy cannot score old-class "
                             "exemplars; set memory.mode: none (PyCIL's finetune) or masked: false")

    def loss(self, learner, x: torch.Tensor, y: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        if not self.cfg.method.finetune.masked:
            return super().loss(learner, x, y, ctx)
        logits = learner.model(x)["logits"]
        return F.cross_entropy(logits[:, ctx.known: ctx.total], y - ctx.known)
