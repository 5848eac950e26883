"""DER (Yan et al., "Dynamically Expandable Representation for Class Incremental Learning", CVPR 2021).

Implemented:
- representation learning stage: at phase t a new feature extractor F_t (initialised from
  F_{t-1}, as in the released code) joins the frozen super-feature extractor; the embedding is
  u = [Φ_{t-1}(x), F_t(x)] and the classifier H_t reads all of it. Old extractors
  have no trainable parameter and stay in eval mode, so they do not change at all
  (:class:`raycil.models.expandable.ExpandableNet`);
- L = L_H + λ_a·L_{H_a} (the paper's loss without its sparsity term): cross-entropy over all seen classes
  plus the auxiliary classifier H_a on F_t(x) alone, over |C_new| + 1 outputs (every old class
  is the one label "old");
- classifier learning stage: after the memory update, the classifier is re-trained on the
  class-balanced memory with the extractors frozen, cross-entropy on logits / δ (softmax
  temperature δ = 5), for ⌈``retrain_epoch_ratio`` x ``train.epochs``⌉ epochs at ``retrain_lr``
  (the released code: 30 epochs for 170, lr 0.1); the classifier is fine-tuned from its trained
  weights rather than reset.

Left out: the channel-level masks, the sparsity loss L_S and the pruning they drive,
so every phase adds one whole backbone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from raycil.data.protocol import PhaseContext
from raycil.methods.base import Method
from raycil.methods.settings import DerConfig
from raycil.models.expandable import ExpandableNet


def aux_targets(y: torch.Tensor, known: int) -> torch.Tensor:
    """DER auxiliary labels: 0 for every old class, 1..|C_new| for the new classes."""
    return torch.where(y >= known, y - known + 1, torch.zeros_like(y))


class DER(Method):
    settings: DerConfig

    def build_model(self) -> ExpandableNet:
        return ExpandableNet([self.backbone()])

    def before_phase(self, learner, ctx: PhaseContext) -> None:
        net: ExpandableNet = learner.model
        if not ctx.is_first:
            net.freeze_backbones(keep_last=False)
            net.add_backbone()
            net.set_aux(ctx.total - ctx.known + 1)
        super().before_phase(learner, ctx)

    def loss(self, learner, x, y, ctx: PhaseContext) -> torch.Tensor:
        out = learner.model(x)
        loss = F.cross_entropy(out["logits"][:, : ctx.total], y)
        if "aux_logits" in out:
            loss = loss + self.settings.aux_weight * F.cross_entropy(
                out["aux_logits"], aux_targets(y, ctx.known))
        return loss

    def after_phase(self, learner, ctx: PhaseContext, exemplars) -> None:
        """Classifier learning stage on the balanced memory (incremental phases only)."""
        if ctx.is_first:
            return
        net: ExpandableNet = learner.model
        net.set_aux(None)  # H_a only serves the representation learning stage
        net.freeze_backbones(keep_last=False)
        images, labels = exemplars
        d = self.settings
        if len(labels):
            learner.fit(learner.batches(images, labels, train=True), d.retrain_epochs(self.cfg.train.epochs),
                        d.retrain_lr, lambda x, y: F.cross_entropy(
                            net(x)["logits"][:, : ctx.total] / d.retrain_temperature, y),
                        list(net.head.parameters()), desc="classifier re-training")
