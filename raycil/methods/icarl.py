"""iCaRL (Rebuffi et al., CVPR 2017): distillation from the previous network plus herding
exemplars, evaluated both with the network's classifier (CNN) and with the nearest mean of
exemplars (NME, iCaRL Alg. 1). The loss follows the PyCIL formulation the CIM/FOSTER tables use:
cross-entropy over all seen classes + KD (T = 2) on the old classes' logits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from raycil.data.protocol import PhaseContext
from raycil.methods.base import DistillationMixin, Method

if TYPE_CHECKING:
    from raycil.experiment import Experiment


class ICaRL(DistillationMixin, Method):
    def __init__(self, cfg: Experiment, image_size: int | None, settings: None = None):
        super().__init__(cfg, image_size, settings)
        self.class_means: torch.Tensor | None = None

    def loss(self, learner, x, y, ctx: PhaseContext) -> torch.Tensor:
        logits = learner.model(x)["logits"]
        return F.cross_entropy(logits[:, : ctx.total], y) + self.distillation(logits, x, ctx)

    def after_phase(self, learner, ctx: PhaseContext, exemplars: Any) -> None:
        """Class means of the L2-normalised exemplar embeddings (with flips, iCaRL §2.1)."""
        self.class_means = learner.class_means(exemplars, ctx.total)

    def predict(self, learner, x, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        out = learner.model(x)
        scores = {"cnn": out["logits"][:, : ctx.total]}
        if self.class_means is not None:
            f = F.normalize(out["features"], dim=1)
            scores["nme"] = -torch.cdist(f, self.class_means.to(f.device))
        return scores

    def state(self) -> dict[str, Any]:
        return {"class_means": self.class_means}

    def load_state(self, state: dict[str, Any]) -> None:
        self.class_means = state.get("class_means")
