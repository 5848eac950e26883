"""SS-IL (Ahn et al., ICCV 2021): separated softmax (Eq. 3) with ratio-preserving mini-batches:
every batch of new data B_Dt is joined by a replay batch B_M of ``train.replay_batch_size``
exemplars drawn with replacement (Algorithm 1); the learner builds those batches."""

from __future__ import annotations

import torch

from raycil.data.protocol import PhaseContext
from raycil.methods.base import Method
from raycil.methods.losses import separated_softmax_loss


class SSIL(Method):
    name = "ssil"

    @classmethod
    def check(cls, cfg) -> None:
        if cfg.train.replay_batch_size < 1:
            raise ValueError("train.replay_batch_size must be >= 1 for method 'ssil' "
                             "(SS-IL needs replay batches)")

    def loss(self, learner, x, y, ctx: PhaseContext) -> torch.Tensor:
        return separated_softmax_loss(learner.model(x)["logits"], y, ctx.known, ctx.total)
