"""Mask-level optimization of the CIM model φ (CIM §4.2, Algorithm 1 lines 5-7, Eq. 6-9, S1).

The CIM model is the CIL network run with its activations swapped for φ's PAUs
(:class:`~raycil.plugins.cim.branch.MaskBranch`); every weight layer, the feature extractor's θ and the
classifier's ω, is shared. The masks are soft (Eq. S1: CAM of the φ branch, min-max normalised, no
threshold or box), so the compressed images x̃(φ) and everything computed from them stay
differentiable in φ:

    θ⁺ = θ − β1 ∇θ L_CIL(Ẽ ∪ D̃(φ); θ, ω)                                        (Eq. 7)
    φ ← φ − β2 ∇φ [CE(D_i; θ⁺, ω) + μ R(φ) + μ′ CE(Ẽ ∪ D_i; θ, ω, φ)]            (Eq. 9)

with ω fixed in the inner step (``inner_step_classifier`` steps it too), R(φ) the ℓ2 norm (mean
square) of the generated masks, ∇φ clipped to norm 1 and β1, β2 annealed with the main learning
rate. Only φ moves in this step; θ, ω and the batch-norm running statistics are left as they were
(the φ branch must not shift the CIL model's statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from raycil.models.backbones import Backbone
from raycil.plugins.cim.branch import MaskBranch
from raycil.plugins.cim.config import CimConfig
from raycil.plugins.cim.differentiable import cam_maps, soft_compress
from raycil.plugins.inner_steps import Params, call_with, inner_step, trainable

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class MaskBatch:
    """New-class images D_i (labels) and exemplar images Ẽ (labels), seen classes ``total``."""

    x_new: torch.Tensor
    y_new: torch.Tensor
    x_mem: torch.Tensor
    y_mem: torch.Tensor
    total: int

    def joined(self, x_new: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Ẽ ∪ D_i (or Ẽ ∪ ``x_new``) as one batch."""
        x = self.x_new if x_new is None else x_new
        return torch.cat([self.x_mem, x]), torch.cat([self.y_mem, self.y_new])


def soft_masks(model: nn.Module, branch: MaskBranch, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eq. S1a-b: the φ branch's CAM for the true class, min-max normalised, at input size."""
    with branch.active(model):
        out = model(x)
    return cam_maps(out["fmaps"], model.head.weight, y, tuple(x.shape[-2:]))


def phi_cross_entropy(model: nn.Module, branch: MaskBranch, batch: MaskBatch) -> torch.Tensor:
    """Eq. 9's last term CE(Ẽ ∪ D_i; θ, φ): keeps the φ branch a classifier, so its maps stay
    image-specific instead of collapsing."""
    x, y = batch.joined()
    with branch.active(model):
        logits = model(x)["logits"]
    return F.cross_entropy(logits[:, : batch.total], y)


Objective = tuple[torch.Tensor, dict[str, float]]


def mask_objective(model: nn.Module, branch: MaskBranch, batch: MaskBatch, cfg: CimConfig,
                   validation: Callable[[torch.Tensor], torch.Tensor]) -> Objective:
    """φ's objective: ``validation(x̃(φ))`` (the first term) + μ R(φ) + μ′ CE(Ẽ ∪ D_i; θ, φ),
    with x̃(φ) the new images compressed by the φ branch's soft masks (Eq. S1)."""
    masks = soft_masks(model, branch, batch.x_new, batch.y_new)
    val = validation(soft_compress(batch.x_new, masks, cfg.eta))
    reg, ce_phi = masks.pow(2).mean(), phi_cross_entropy(model, branch, batch)
    parts = {"val": float(val.detach()), "reg": float(reg.detach()), "ce_phi": float(ce_phi.detach())}
    return val + cfg.mu * reg + cfg.mu_prime * ce_phi, parts


def stepped_params(model: nn.Module, cfg: CimConfig) -> Params:
    """What Eq. 7's inner step moves: the feature extractor's θ (the trainable parameters of every
    :class:`~raycil.models.backbones.Backbone` in ``model``); with ``cfg.inner_step_classifier``
    also the classifier's ω (every other trainable parameter)."""
    theta = trainable(model)
    if cfg.inner_step_classifier:
        return theta
    extractor = {id(p) for m in model.modules() if isinstance(m, Backbone) for p in m.parameters()}
    return {n: p for n, p in theta.items() if id(p) in extractor}


def theta_plus(model: nn.Module, cil_loss: LossFn, batch: MaskBatch, x_tilde: torch.Tensor,
               cfg: CimConfig, beta1: float) -> Params:
    """Eq. 7 on Ẽ ∪ D̃(φ): every trainable parameter, the stepped ones as θ⁺ (in the graph), the
    others (ω by default) as they are."""
    stepped = inner_step(cil_loss(*batch.joined(x_tilde)), stepped_params(model, cfg), beta1)
    return {**trainable(model), **stepped}


def bilevel_objective(model: nn.Module, branch: MaskBranch, cil_loss: LossFn, batch: MaskBatch,
                      cfg: CimConfig, beta1: float) -> Objective:
    """Eq. 9: the first term is CE(D_i; θ⁺, ω), θ⁺ from the inner step of Eq. 7 on Ẽ ∪ D̃(φ)."""
    def validation(x_tilde: torch.Tensor) -> torch.Tensor:
        params = theta_plus(model, cil_loss, batch, x_tilde, cfg, beta1)
        logits_plus = call_with(model, params, lambda x: model(x)["logits"], batch.x_new)
        return F.cross_entropy(logits_plus[:, : batch.total], batch.y_new)

    return mask_objective(model, branch, batch, cfg, validation)


def joint_objective(model: nn.Module, branch: MaskBranch, batch: MaskBatch,
                    cfg: CimConfig) -> Objective:
    """Table 3 row 8 ("Joint Train"): φ learns on each batch from the CIL model as it is, with
    no inner step: the first term is CE(D̃(φ); θ)."""
    def validation(x_tilde: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x_tilde)["logits"][:, : batch.total], batch.y_new)

    return mask_objective(model, branch, batch, cfg, validation)


class PhiOptimizer:
    """SGD on φ only: gradients of an objective w.r.t. φ, norm-clipped, step β2 x lr ratio.
    Plain SGD keeps no state between steps, so one optimizer serves a branch for all its steps."""

    def __init__(self, branch: MaskBranch, cfg: CimConfig):
        self.branch = branch
        self.params = list(branch.parameters())
        self.cfg = cfg
        self.opt = torch.optim.SGD(self.params, lr=cfg.beta2)

    def step(self, objective: torch.Tensor, lr_ratio: float) -> None:
        grads = torch.autograd.grad(objective, self.params, allow_unused=True)
        for p, g in zip(self.params, grads, strict=True):
            p.grad = torch.zeros_like(p) if g is None else g.detach()
        torch.nn.utils.clip_grad_norm_(self.params, self.cfg.phi_grad_clip)
        for group in self.opt.param_groups:
            group["lr"] = self.cfg.beta2 * lr_ratio
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
