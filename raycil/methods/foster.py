"""FOSTER (Wang et al., "FOSTER: Feature Boosting and Compression for Class-Incremental Learning",
ECCV 2022), with the hyperparameters of its PyCIL release that the CIM paper inherits
(β1 = 0.96, β2 = 0.97, λ_okd = 1, T = 2, 130 compression epochs for 170 boosting epochs).

Phase 1 trains one backbone with cross-entropy. Every later phase has two stages:

- feature boosting: a new module F_t (initialised from the old one) is trained beside
  the frozen old module F_{t-1} (kept in eval mode); the classifier reads [F_{t-1}(x), F_t(x)].
  Loss = L_LA + L_FE + λ_okd·L_KD:
  * L_LA, logits adjustment with effective-number weights (Cui et al. 2019):
    w_c ∝ (1 − β1) / (1 − β1^{n_c}) normalised to sum to |C| over the phase's per-class sample
    counts n_c (new data ∪ memory, whatever the memory holds); CE(z / w, y);
  * L_FE, cross-entropy of an auxiliary classifier on F_t(x) alone over all seen classes;
  * L_KD, KD (T) of the old classes' logits against the old classifier applied to F_{t-1}(x)
    (the previous phase's network, whose module is frozen);
- feature compression: a single-backbone student, initialised from F_{t-1} and the old
  classifier (new rows fresh), distils the two-module teacher on the same data with balanced
  KD: the teacher's softened distribution is reweighted by the β2 effective-number weights and
  renormalised, for ⌈ratio x ``train.epochs``⌉ epochs at ``train.lr``. The student becomes the
  network; the teacher is kept until the next phase only to report its accuracy (``boosted_*``).

Left out: the optional weight aligning of teacher or student (off in the PyCIL defaults), the
"az" old-feature/new-class zeroing option (default "ft" trains those weights), AutoAugment, and
the compression optimizer's zero weight decay (the shared training loop uses ``train.weight_decay``).
``top1`` is the accuracy of the compressed single-backbone network, the model FOSTER keeps
(PyCIL's per-phase accuracy is the boosted teacher's; here that figure is ``boosted_top1``).
With short schedules the student needs more than 130/170 of the boosting epochs to catch up
with the teacher: raise ``compression_epoch_ratio`` (see tests/test_methods_strong.py).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from raycil.data.protocol import PhaseContext
from raycil.methods.base import Method
from raycil.methods.losses import kd_loss
from raycil.methods.settings import FosterConfig
from raycil.models.expandable import ExpandableNet
from raycil.models.network import GrowingLinear

if TYPE_CHECKING:
    from raycil.experiment import Experiment


def effective_number_weights(counts: np.ndarray, beta: float) -> torch.Tensor:
    """Class-balanced weights of Cui et al. (CVPR 2019) used by FOSTER: (1 − β) / (1 − β^{n_c}),
    normalised to sum to the number of classes (a class without samples counts as one)."""
    n = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    w = (1.0 - beta) / (1.0 - np.power(beta, n))
    return torch.tensor(w / w.sum() * len(w), dtype=torch.float32)


def class_counts(labels: Any, total: int) -> np.ndarray:
    """Training samples per class 0..total-1."""
    return np.bincount(np.asarray(labels), minlength=total)[:total]


def balanced_kd(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                weights: torch.Tensor) -> torch.Tensor:
    """FOSTER balanced distillation: soft targets softmax(z_T / T) ⊙ w, renormalised, which is
    softmax((z_T + T·log w) / T), so this is plain KD against shifted teacher logits."""
    return kd_loss(student, teacher + temperature * weights.log(), temperature)


class FOSTER(Method):
    settings: FosterConfig

    def __init__(self, cfg: Experiment, image_size: int | None, settings: FosterConfig | None = None):
        super().__init__(cfg, image_size, settings)
        self.old_head: GrowingLinear | None = None
        self.weights: torch.Tensor | None = None
        self.boosted: ExpandableNet | None = None

    def build_model(self) -> ExpandableNet:
        return ExpandableNet([self.backbone()])

    def before_phase(self, learner, ctx: PhaseContext) -> None:
        self.boosted = None
        net: ExpandableNet = learner.model
        if not ctx.is_first:
            self.old_head = copy.deepcopy(net.head).requires_grad_(False)
            net.freeze_backbones(keep_last=False)
            net.add_backbone()
            net.set_aux(ctx.total)
        super().before_phase(learner, ctx)

    def before_training(self, learner, ctx: PhaseContext, images: Any, labels: Any) -> None:
        if not ctx.is_first:
            beta1 = self.settings.beta1
            self.weights = effective_number_weights(class_counts(labels, ctx.total), beta1).to(learner.device)

    def loss(self, learner, x, y, ctx: PhaseContext) -> torch.Tensor:
        out = learner.model(x)
        logits = out["logits"][:, : ctx.total]
        if ctx.is_first:
            return F.cross_entropy(logits, y)
        p = self.cfg.method
        with torch.no_grad():
            old_logits = self.old_head(out["features"][:, : self.old_head.in_dim])
        return (F.cross_entropy(logits / self.weights, y)
                + F.cross_entropy(out["aux_logits"], y)
                + self.settings.okd_weight * kd_loss(logits[:, : ctx.known], old_logits, p.kd_temperature))

    def after_training(self, learner, ctx: PhaseContext, images: Any, labels: Any) -> None:
        if not ctx.is_first:
            self.compress(learner, ctx, images, labels)

    def compress(self, learner, ctx: PhaseContext, images: Any, labels: Any) -> None:
        """Feature compression: distil the two-module network into one backbone (it becomes
        ``learner.model``; the two-module teacher is kept as ``self.boosted``)."""
        teacher: ExpandableNet = learner.model.eval()
        teacher.set_aux(None)
        head = copy.deepcopy(self.old_head).requires_grad_(True)
        student = ExpandableNet([copy.deepcopy(teacher.backbones[0]).requires_grad_(True)], head)
        student.expand(ctx.total - ctx.known)
        learner.model = student.to(learner.device)
        p = self.cfg.method
        counts = class_counts(labels, ctx.total)
        weights = effective_number_weights(counts, self.settings.beta2).to(learner.device)

        def distil(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                target = teacher(x)["logits"][:, : ctx.total]
            return balanced_kd(student(x)["logits"][:, : ctx.total], target, p.kd_temperature, weights)

        learner.fit(learner.batches(images, labels, train=True),
                    self.settings.compression_epochs(self.cfg.train.epochs), self.cfg.train.lr, distil,
                    list(student.parameters()), desc="feature compression")
        self.boosted = teacher

    def predict(self, learner, x, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        scores = super().predict(learner, x, ctx)
        if self.boosted is not None:
            scores["boosted"] = self.boosted(x)["logits"][:, : ctx.total]
        return scores
