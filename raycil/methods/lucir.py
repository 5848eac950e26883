"""LUCIR (Hou et al., "Learning a Unified Classifier Incrementally via Rebalancing", CVPR 2019).

Implemented:
- cosine normalisation: logits η·<θ̄_i, f̄(x)> with a learnable scale η
  (:class:`raycil.models.cosine.CosineLinear`); the old classes' embeddings are kept fixed while a
  phase trains (as in the authors' released code, which gives them learning rate 0);
- less-forget constraint: L_dis = 1 − <f̄*(x), f̄(x)> between the previous network's and
  the current network's normalised features, weighted by λ = λ_base·sqrt(|C_o| / |C_n|);
- inter-class separation: margin ranking loss for old-class samples,
  Σ_k max(m − <θ̄(x), f̄(x)> + <θ̄^k, f̄(x)>, 0) over the K new classes with the highest cosine
  (hard negatives), averaged over pairs (K = 2, m = 0.5);
- total loss L = L_ce + λ·L_dis + L_mr;
- class-balanced fine-tuning: the learner's ``train.balanced_finetune`` stage on the balanced
  memory after each phase (configs/lucir.yaml turns it on), as the authors' code runs it
  (``cb_finetune``, ``ft_flag`` 2): old and new class embeddings train with this method's whole loss
  against the previous network, the feature extractor, its batch-norm statistics and η fixed;
- as the LUCIR, Mnemonics and CIM papers ran it (``imprint``, ``last_relu``): the new classes'
  embeddings imprinted before a phase trains (normalised mean of the normalised features of each
  new class's training images, scaled to the old embeddings' mean norm), and no ReLU after the
  backbone's last residual block.

The weight transfer operations the Mnemonics and CIM papers add are ``model.weight_transfer``,
an option of every method.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from raycil.data.protocol import PhaseContext
from raycil.methods.base import DistillationMixin, Method
from raycil.methods.settings import LucirConfig
from raycil.models.activations import drop_last_relu
from raycil.models.cosine import CosineLinear
from raycil.models.network import IncrementalNet


def less_forget_loss(features: torch.Tensor, old_features: torch.Tensor) -> torch.Tensor:
    """LUCIR less-forget constraint: mean of 1 − cos(f*(x), f(x)) (cosine embedding loss with target 1)."""
    return (1 - F.cosine_similarity(features, old_features, dim=1)).mean()


def margin_ranking_loss(cosine: torch.Tensor, y: torch.Tensor, known: int, k: int,
                        margin: float) -> torch.Tensor:
    """LUCIR margin ranking loss on cosine scores [B, seen classes]: for samples of old classes
    (y < known), the ground-truth cosine must beat each of the top-``k`` new-class cosines by
    ``margin``; the hinge is averaged over those (sample, negative) pairs."""
    old = y < known
    if not old.any() or cosine.shape[1] <= known:
        return cosine.new_zeros(())
    scores = cosine[old]
    gt = scores.gather(1, y[old, None])
    hard = scores[:, known:].topk(min(k, scores.shape[1] - known), dim=1).values
    return F.relu(margin - gt + hard).mean()


def imprint(learner, ctx: PhaseContext) -> None:
    """Set each new class's embedding to the normalised mean of the normalised embeddings of its
    training images under the network as the phase starts, times the old embeddings' mean norm
    (LUCIR's released code, "imprint weights")."""
    head: CosineLinear = learner.model.head
    old_norm = head.weight[: ctx.known].norm(dim=1).mean()
    rows = []
    for c in ctx.new_classes:
        features = F.normalize(learner.embed(learner.data.train.of_classes([c]).images), dim=1)
        rows.append(F.normalize(features.mean(0), dim=0) * old_norm)
    with torch.no_grad():
        head.blocks[-1].copy_(torch.stack(rows))


class LUCIR(DistillationMixin, Method):
    settings: LucirConfig

    def build_model(self) -> IncrementalNet:
        backbone = self.backbone()
        if not self.settings.last_relu:
            drop_last_relu(backbone)
        return IncrementalNet(backbone, CosineLinear(backbone.out_dim))

    def before_phase(self, learner, ctx: PhaseContext) -> None:
        super().before_phase(learner, ctx)  # teacher = previous network, then grow the classifier
        if self.settings.imprint and not ctx.is_first:
            imprint(learner, ctx)
        learner.model.head.freeze_old()

    def loss(self, learner, x, y, ctx: PhaseContext) -> torch.Tensor:
        out = learner.model(x)
        loss = F.cross_entropy(out["logits"][:, : ctx.total], y)
        if self.teacher is None or ctx.known == 0:
            return loss
        with torch.no_grad():
            old_features = self.teacher(x)["features"]
        p = self.settings
        lam = p.lambda_base * math.sqrt(ctx.known / (ctx.total - ctx.known))
        cosine = learner.model.head.cosine(out["features"])[:, : ctx.total]
        return (loss + lam * less_forget_loss(out["features"], old_features)
                + p.margin_weight * margin_ranking_loss(cosine, y, ctx.known, p.hard_negatives, p.margin))

    def after_training(self, learner, ctx: PhaseContext, images, labels) -> None:
        """Release the old class embeddings for the class-balanced fine-tuning stage."""
        learner.model.head.requires_grad_(True)
