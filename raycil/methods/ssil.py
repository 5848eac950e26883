"""SS-IL (Ahn et al., ICCV 2021): separated softmax (Eq. 3) with ratio-preserving mini-batches:
every batch of new data B_Dt is joined by a replay batch B_M of ``train.replay_batch_size``
exemplars drawn with replacement (Algorithm 1); the learner builds those batches. The paper's
optimisation is configuration (configs/ssil.yaml): the 1-based phase p starts at lr / p
(``train.lr_over_phases: inverse``, Algorithm 1), weight decay 1e-4, random exemplars
(``memory.selection: random``, the Ringbuffer of §6.1).

``method.ssil.task_kd`` adds the task-wise KD of the authors' released code (and of the paper's
ICCV 2021 version; the supplied paper has none): for every earlier task (phase), KD within that
task's logits against the previous phase's network, on the whole batch (new and replay), at
T = ``method.kd_temperature``, x T², summed over the tasks, x ``method.kd_weight`` (the code's
fixed T = 2 and weight 1 are the defaults). The code's KL divergence and this soft-target
cross-entropy differ by the teacher's entropy, a constant: the gradients are the same."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from raycil.data.protocol import PhaseContext, phase_contexts
from raycil.methods.base import DistillationMixin, Method, MethodHost
from raycil.methods.losses import separated_softmax_loss, task_wise_kd_loss
from raycil.methods.settings import SsilConfig

if TYPE_CHECKING:
    from raycil.experiment import Experiment


class SSIL(DistillationMixin, Method):
    settings: SsilConfig

    def __init__(self, cfg: Experiment, image_size: int | None, settings: SsilConfig | None = None):
        super().__init__(cfg, image_size, settings)
        self.old_tasks: list[range] = []

    def before_phase(self, learner: MethodHost, ctx: PhaseContext) -> None:
        """Keep the previous network (the KD teacher) and the class ranges of the earlier tasks."""
        super().before_phase(learner, ctx)
        contexts = phase_contexts(self.cfg.protocol, self.cfg.num_classes)
        self.old_tasks = [c.new_classes for c in contexts if c.total <= ctx.known]

    def loss(self, learner: MethodHost, x: torch.Tensor, y: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        logits = learner.model(x)["logits"]
        loss = separated_softmax_loss(logits, y, ctx.known, ctx.total)
        if self.settings.task_kd and self.teacher is not None:
            with torch.no_grad():
                old = self.teacher(x)["logits"]
            m = self.cfg.method
            loss = loss + m.kd_weight * task_wise_kd_loss(logits, old, self.old_tasks, m.kd_temperature)
        return loss
