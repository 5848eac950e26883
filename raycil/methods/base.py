"""The method hooks every CIL method implements.

A method builds its network, adapts it before a phase (grow the classifier, freeze a teacher),
gives the loss of one mini-batch, may act after a phase (NME means, weight aligning, balanced
fine-tuning), and predicts scores for evaluation. The learner owns the training loop, so the
loop, the replay batches and the schedules exist once for every method.

A method is one file: besides its hooks it declares its registry ``name``, its own settings
(``settings``: the schema of the section ``method.<name>``), whether it keeps a memory, and any
check its settings need against the rest of the experiment (``check``); ``raycil.methods``
registers it with one line and ``raycil.config`` assembles the schema from the registry.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from raycil.data.protocol import PhaseContext
from raycil.methods.losses import kd_loss
from raycil.models import IncrementalNet, build_backbone
from raycil.models.backbones import Backbone
from raycil.schema import Strict

if TYPE_CHECKING:
    from raycil.config import ExperimentConfig
    from raycil.learner import Learner


class Method:
    """Base class: plain cross-entropy over all seen classes (fine-tuning)."""

    name: ClassVar[str]
    settings: ClassVar[type[Strict] | None] = None  # the schema of ``method.<name>``, if any
    uses_memory: ClassVar[bool] = True          # trains on D_i ∪ memory and asks the memory to select
    trains_on_all_seen: ClassVar[bool] = False  # joint training: all data of the seen classes

    def __init__(self, cfg: ExperimentConfig, image_size: int | None):
        self.cfg, self.image_size = cfg, image_size

    @classmethod
    def check(cls, cfg: ExperimentConfig) -> None:
        """Raise ValueError (one line naming the field) if the experiment cannot run this method."""

    def backbone(self) -> Backbone:
        """A fresh backbone as ``model`` configures it, for this dataset's image size."""
        return build_backbone(self.cfg.model.backbone, self.image_size, self.cfg.model.width)

    def build_model(self) -> nn.Module:
        return IncrementalNet(self.backbone())

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
