"""The MFGR plug-in's settings: the experiment section ``mfgr`` (Xin et al., memory-free
generative replay)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from raycil.plugins.spec import PluginSettings


class MfgrConfig(PluginSettings):
    """Memory-free generative replay (Xin et al., §5). After every phase but the last, a generator
    is trained from the final, frozen network alone (knowledge recording, Eq. 7):
    ℓ_KR = ℓ_oh + λ1 ℓ_cd + λ2 ℓ_bn + λ3 ℓ_div, with ``lambda1`` = 5 (class diversity),
    ``lambda2`` = 20 (batch-norm statistics), ``lambda3`` = 0.1 (pairwise diversity over
    ``div_pairs`` = 200 random pairs); a λ of 0 switches its term off (Table 2: G_base has
    λ2 = λ3 = 0, G_bn λ3 = 0). The memory keeps its weights, and the next phase trains on new data
    plus generated old-class images (knowledge inheritance, Eq. 8): ``ratio`` generated images per
    new image in every batch (G:N, Figure 6), drawn from a pool ``pool`` times larger so the old
    classes (the old network's arg-max) are equally represented, distilled (ℓ_gkd, KD at
    ``method.kd_temperature`` on the old classes' logits) with weight λ4 = t / (t + 1) at
    incremental step t; ``method.lwf.adaptive`` weighs LwF's ℓ_ce and ℓ_nkd the same way.

    Where the paper is silent its authors' code decides (xmengxin/MFGR, ``train_df_generator``):
    ℓ_cd's entropy in base 10 (``cd_log: "10"``; ``"e"``: natural), ℓ_div's KL between the
    softmaxes of two images' pixels (``div_on: pixels``; ``predictions``: between the network's
    class predictions), DAFL's activation term −mean |f(x̃)| of the network's features weighted
    ``activation_weight`` = 0.1 (Eq. 7 has none: 0), a latent code of ``latent_dim`` = 1000. The
    generator is DCGAN-style as DAFL's (``width`` channels); it trains with Adam at ``lr`` on
    batches of ``batch_size`` for ``iterations`` steps per recording (the paper: 500 epochs of 120
    steps at batch 512 and lr 0.01), whatever the classifier's epochs; ``rescale: true`` shrinks
    them by the later phases' epochs over ``of_epochs``. Each recording reports ``mfgr_steps``
    and the class coverage of fresh samples (``mfgr_coverage``)."""

    enabled: bool = False
    lambda1: float = Field(5.0, ge=0)
    lambda2: float = Field(20.0, ge=0)
    lambda3: float = Field(0.1, ge=0)
    div_pairs: int = Field(200, ge=1)
    cd_log: Literal["10", "e"] = "10"
    div_on: Literal["pixels", "predictions"] = "pixels"
    activation_weight: float = Field(0.1, ge=0)
    ratio: float = Field(1.0, gt=0)
    pool: float = Field(2.0, ge=1)
    latent_dim: int = Field(1000, ge=1)
    width: int = Field(128, ge=8)
    lr: float = Field(0.01, gt=0)
    batch_size: int = Field(512, ge=2)
    iterations: int = Field(60000, ge=1)
    rescale: bool = False
    of_epochs: int = Field(150, ge=1)

    @property
    def active(self) -> bool:
        return self.enabled

    @property
    def records_generator(self) -> bool:
        return self.enabled
