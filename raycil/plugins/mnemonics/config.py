"""The Mnemonics plug-in's settings: the experiment section ``mnemonics`` (Liu et al., CVPR 2020)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from raycil.data.config import fixed_image_size
from raycil.plugins.spec import PluginSettings

if TYPE_CHECKING:
    from raycil.experiment import Experiment

class MnemonicsConfig(PluginSettings):
    """Mnemonics training (Liu et al., CVPR 2020, §4.3): the memory's exemplars are optimised
    images. After the memory stores the new classes' exemplars (initialised by ``memory.selection``:
    the paper's random subset S of D_i, or herding), each phase

    - trains them (``train_new``) by the bilevel step of Eq. 8-9: a temporary model Θ′ ← Θ_i
      takes ``unroll`` gradient steps (rate ``alpha2``) on the exemplars, kept in the graph, and
      the loss of Θ′ on a batch of D_i flows back through those steps to the pixels (``beta1``);
    - adjusts the old classes' exemplars (``adjust_old``, Eq. 10): split into ``folds`` subsets,
      each trained with the rest as validation data (rate ``beta2``).

    The exemplar-level schedule is the paper's (§7.1): ``epochs`` = 50 passes with β halved every
    ``halve_every`` = 10, whatever the phase's model epochs, by SGD with ``momentum`` 0.9 and
    ``weight_decay`` 5e-4 (the paper's SGD settings; the exemplar-level ones are not stated apart),
    and Θ′ trained ``unroll`` = 50 steps on the exemplars (§7.1: "in 50 epochs"; the exemplars of
    a phase are one batch), every step in the graph. ``rescale: true`` shrinks the schedule to the
    phase's epochs over ``of_epochs`` (raycil's miniature before December 2026: about 4 exemplar
    updates in a later phase of configs/mnemonics.yaml instead of 100). ``storage``: what the
    memory keeps of a learned exemplar, charged its bytes (uint8 rounds it to an image: 1 unit;
    float16 2 units; float32 4 units).
    Table 2's "random" / "herding" rows adjust selected exemplars without training the new ones
    (``train_new: false``)."""

    enabled: bool = False
    train_new: bool = True
    epochs: int = Field(50, ge=1)
    halve_every: int = Field(10, ge=1)
    rescale: bool = False
    of_epochs: int = Field(160, ge=1)
    beta1: float = Field(0.01, ge=0)
    beta2: float = Field(0.01, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)
    alpha2: float = Field(0.01, ge=0)
    unroll: int = Field(50, ge=1)
    adjust_old: bool = True
    folds: int = Field(2, ge=2)
    storage: Literal["uint8", "float16", "float32"] = "uint8"

    @property
    def active(self) -> bool:
        return self.enabled

    @property
    def stores_exemplars(self) -> bool:
        return self.enabled

    @property
    def refines_exemplars(self) -> bool:
        return self.enabled

    def check(self, cfg: Experiment) -> None:
        if not self.enabled:
            return
        if not cfg.keeps_memory:
            raise ValueError(f"mnemonics.enabled: true optimises exemplars, but method '{cfg.method.name}' "
                             f"with memory.mode '{cfg.memory.mode}' keeps none")
        if fixed_image_size(cfg.dataset) is None:
            raise ValueError(f"mnemonics.enabled: true needs a dataset of fixed-size images (synthetic, "
                             f"cifar100); '{cfg.dataset.name}' has images of varying size")
