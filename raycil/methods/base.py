"""The method hooks every CIL method implements.

A method builds its network, adapts it before a phase (grow the classifier, freeze a teacher),
gives the loss of one mini-batch, may act after a phase (NME means, weight aligning, balanced
fine-tuning), and predicts scores for evaluation. The learner owns the training loop, so the
loop, the replay batches and the schedules exist once for every method.

A method is one file of hooks, typed against :class:`MethodHost` (what it may use of the
learner) and :class:`~raycil.experiment.Experiment` (what it may read of the settings); its own
settings section is a class of :mod:`raycil.methods.settings` (handed to it as ``settings``), and
one line of :mod:`raycil.methods.registry` names it, says whether it keeps a memory, and points to
its hooks class.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from torch import nn

from raycil.data.protocol import PhaseContext
from raycil.methods.losses import kd_loss
from raycil.models.backbones import Backbone, build_backbone
from raycil.models.network import IncrementalNet

if TYPE_CHECKING:
    from raycil.data.registry import Dataset
    from raycil.experiment import Experiment
    from raycil.learner.batches import BatchSource
    from raycil.memory.store import Exemplars
    from raycil.methods.settings import MethodSettings


class MethodHost(Protocol):
    """What a method's hooks may use of the learner (:class:`raycil.learner.learner.Learner`)."""

    model: nn.Module          # the CIL network; a method may replace parts of it between phases
    device: torch.device
    data: Dataset             # the run's train / test images in class-order labels

    def batches(self, images: Any, labels: np.ndarray, train: bool, cam: bool = False) -> BatchSource:
        """A batch source over ``images`` (training augmentation when ``train``)."""
        ...

    def fit(self, source: BatchSource, epochs: int, lr: float,
            loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
            params: Sequence[nn.Parameter], replay: BatchSource | None = None, desc: str = "",
            hooks: Sequence[Any] = (), first_phase: bool = False) -> None:
        """The one training loop, for a method's own stages (DER's re-training, FOSTER's compression)."""
        ...

    def embed(self, images: Any, flip: bool = False) -> torch.Tensor:
        """Pooled embeddings of ``images`` (evaluation transform)."""
        ...

    def class_means(self, exemplars: Exemplars, total: int) -> torch.Tensor:
        """iCaRL's normalised class means of the exemplars' embeddings."""
        ...


class Method:
    """Base class: plain cross-entropy over all seen classes (fine-tuning). ``settings``: the
    method's own section ``method.<name>`` (None for a method without one)."""

    def __init__(self, cfg: Experiment, image_size: int | None, settings: MethodSettings | None = None):
        self.cfg, self.image_size, self.settings = cfg, image_size, settings

    def backbone(self) -> Backbone:
        """A fresh backbone as ``model`` configures it, for this dataset's image size."""
        return build_backbone(self.cfg.model.backbone, self.image_size, self.cfg.model.width)

    def build_model(self) -> nn.Module:
        return IncrementalNet(self.backbone())

    def before_phase(self, learner: MethodHost, ctx: PhaseContext) -> None:
        learner.model.expand(ctx.total - ctx.known)

    def optim_params(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def train_mode(self, model: nn.Module) -> None:
        """Put the network in training mode (a method may keep frozen parts in eval mode)."""
        model.train()

    def after_step(self, model: nn.Module) -> None:
        """Runs after every optimizer step (e.g. WA's non-negative weight clipping)."""

    def before_training(self, learner: MethodHost, ctx: PhaseContext, images: Any, labels: Any) -> None:
        """Runs in ``train_phase`` just before the training loop, with the phase's training data
        (e.g. FOSTER's effective-number class weights need its per-class counts)."""

    def after_training(self, learner: MethodHost, ctx: PhaseContext, images: Any, labels: Any) -> None:
        """Runs at the end of ``train_phase`` with the phase's training data (D_i ∪ old memory),
        before the memory is updated (e.g. FOSTER's feature compression stage)."""

    def loss(self, learner: MethodHost, x: torch.Tensor, y: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        logits = learner.model(x)["logits"]
        return nn.functional.cross_entropy(logits[:, : ctx.total], y)

    def after_phase(self, learner: MethodHost, ctx: PhaseContext, exemplars: Any) -> None:
        """Runs after the memory is updated for this phase (exemplars include the new classes)."""

    def predict(self, learner: MethodHost, x: torch.Tensor, ctx: PhaseContext) -> dict[str, torch.Tensor]:
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
    cfg: Experiment

    def before_phase(self, learner: MethodHost, ctx: PhaseContext) -> None:
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
