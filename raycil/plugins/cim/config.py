"""The CIM plug-in's settings: the experiment section ``cim`` (Luo et al., CVPR 2023, §5.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from raycil.plugins.spec import PluginSettings

if TYPE_CHECKING:
    from raycil.experiment import Experiment


class CimConfig(PluginSettings):
    """CIM plug-in (Luo et al., CVPR 2023), defaults from §5.1: exemplar compression
    (``boxes``: none = plain exemplars, full = whole image downsampled, random / center = fixed
    boxes, cam = CAM boxes (Eq. 1-2), cim = boxes from the learned-activation branch), threshold
    τ, downsampling ratio η in area (η′ inside the box, 1 = untouched), artifact augmentation
    (§4.1, supplementary §1; refresh / step periods given for ``artifact_of_epochs`` (the paper's
    170) and rescaled to the phase's epochs; ``artifact_rescale: false`` keeps them in epochs, as
    the paper counts them in every phase, the 200-epoch first one too), phase-wise τ picked on a
    held-out share of D_i, and the mask-level optimization of φ (``mask_learning``: bilevel =
    Algorithm 1 / Eq. 5-9, joint = one loss per batch, no inner step) with its learning rates
    β1 / β2, weights μ / μ′ and φ's gradient-norm clip; the bilevel step runs ``outer_steps`` times
    per epoch on ``outer_batch_size`` new images plus as many exemplars. Its inner step (Eq. 7)
    moves the feature extractor θ with the classifier ω fixed, as the paper does;
    ``inner_step_classifier`` steps ω too."""

    boxes: Literal["none", "full", "random", "center", "cam", "cim"] = "none"
    tau: float = Field(0.6, ge=0, lt=1)
    eta: float = Field(4.0, ge=1)
    eta_inner: float = Field(1.0, ge=1)
    artifact_aug: bool = False
    artifact_refresh_epochs: int = Field(40, ge=1)
    artifact_step_epochs: int = Field(40, ge=1)
    artifact_step: float = Field(0.1, ge=0, le=1)
    artifact_of_epochs: int = Field(170, ge=1)
    artifact_rescale: bool = True
    phase_wise_tau: bool = False
    tau_grid: list[float] = Field(default_factory=lambda: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    tau_tolerance: float = Field(2.0, ge=0)
    holdout: float = Field(0.1, gt=0, lt=1)
    mask_learning: Literal["bilevel", "joint"] = "bilevel"
    last_block_only: bool = False
    inner_step_classifier: bool = False
    beta1: float = Field(0.1, ge=0)
    beta2: float = Field(0.01, ge=0)
    mu: float = Field(0.1, ge=0)
    mu_prime: float = Field(0.2, ge=0)
    phi_grad_clip: float = Field(1.0, gt=0)
    outer_steps: int = Field(1, ge=1)
    outer_batch_size: int = Field(32, ge=1)

    @property
    def active(self) -> bool:
        return self.boxes != "none" or self.artifact_aug

    @property
    def stores_exemplars(self) -> bool:
        return self.boxes != "none"

    @property
    def learns_masks(self) -> bool:
        return self.boxes == "cim"

    def check(self, cfg: Experiment) -> None:
        if self.stores_exemplars and not cfg.keeps_memory:
            raise ValueError(f"cim.boxes: '{self.boxes}' compresses exemplars, but method "
                             f"'{cfg.method.name}' with memory.mode '{cfg.memory.mode}' keeps none")
        if self.phase_wise_tau and self.boxes not in ("cam", "cim"):
            raise ValueError("cim.phase_wise_tau needs cim.boxes 'cam' or 'cim' (τ thresholds a CAM)")
