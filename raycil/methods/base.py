"""The method hooks every CIL method implements, and the phase context they receive.

A method builds its network, adapts it before a phase (grow the classifier, freeze a teacher),
gives the loss of one mini-batch, may act after a phase (NME means, weight aligning, balanced
fine-tuning), and predicts scores for evaluation. The learner owns the training loop, so the
loop, the replay batches and the schedules exist once for every method.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from raycil.methods.losses import kd_loss
from raycil.models import IncrementalNet, build_backbone

if TYPE_CHECKING:
    from raycil.config import ExperimentConfig
    from raycil.learner import Learner


@dataclass(frozen=True)
class PhaseContext:
    """Phase ``phase`` (1-based) of ``num_phases``: classes ``known..total-1`` are new."""

    phase: int
    num_phases: int
    known: int
    total: int

    @property
    def new_classes(self) -> range:
        return range(self.known, self.total)

    @property
    def is_first(self) -> bool:
        return self.phase == 1


class Method:
    """Base class: plain cross-entropy over all seen classes (fine-tuning)."""

    uses_memory: bool = True          # trains on D_i ∪ memory and asks the memory to select
    trains_on_all_seen: bool = False  # joint training: all data of the seen classes
    has_nme: bool = False             # also reports nearest-mean-of-exemplars accuracy

    def __init__(self, cfg: ExperimentConfig, image_size: int | None):
        self.cfg, self.image_size = cfg, image_size

    def build_model(self) -> nn.Module:
        return IncrementalNet(build_backbone(self.cfg.model.backbone, self.image_size, self.cfg.model.width))

    def before_phase(self, learner: Learner, ctx: PhaseContext) -> None:
        learner.model.expand(ctx.total - ctx.known)

    def optim_params(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def train_mode(self, model: nn.Module) -> None:
        """Put the network in training mode (a method may keep frozen parts in eval mode)."""
        model.train()

    def after_step(self, model: nn.Module) -> None:
        """Runs after every optimizer step (e.g. WA's non-negative weight clipping)."""

    def before_training(self, learner: Learner, ctx: PhaseContext, images: Any, labels: Any) -> None:
        """Runs in ``train_phase`` just before the training loop, with the phase's training data
        (e.g. FOSTER's effective-number class weights need its per-class counts)."""

    def after_training(self, learner: Learner, ctx: PhaseContext, images: Any, labels: Any) -> None:
        """Runs at the end of ``train_phase`` with the phase's training data (D_i ∪ old memory),
        before the memory is updated (e.g. FOSTER's feature compression stage)."""

    def loss(self, learner: Learner, x: torch.Tensor, y: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        logits = learner.model(x)["logits"]
        return nn.functional.cross_entropy(logits[:, : ctx.total], y)

    def after_phase(self, learner: Learner, ctx: PhaseContext, exemplars: Any) -> None:
        """Runs after the memory is updated for this phase (exemplars include the new classes)."""

    def predict(self, learner: Learner, x: torch.Tensor, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        """Scores over the seen classes; the key ``"cnn"`` is the network's own classifier."""
        return {"cnn": learner.model(x)["logits"][:, : ctx.total]}

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``state`` returned (teacher networks are rebuilt in ``before_phase``)."""


class DistillationMixin:
    """Keeps the network of the previous phase, frozen, as a teacher, and gives the KD term
    (``method.kd_weight`` x ``kd_loss`` at ``method.kd_temperature``) on the old classes' logits."""

    teacher: nn.Module | None = None
    cfg: ExperimentConfig

    def before_phase(self, learner: Learner, ctx: PhaseContext) -> None:
        if not ctx.is_first:
            self.teacher = copy.deepcopy(learner.model).eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)
        super().before_phase(learner, ctx)  # type: ignore[misc]

    def distillation(self, logits: torch.Tensor, x: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        if self.teacher is None or ctx.known == 0:
            return logits.new_zeros(())
        with torch.no_grad():
            old = self.teacher(x)["logits"]
        m = self.cfg.method
        return m.kd_weight * kd_loss(logits[:, : ctx.known], old, m.kd_temperature)
