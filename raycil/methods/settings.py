"""Every method's own settings section (``method.<name>``), importable without torch: the
schema (:mod:`raycil.config.composed`) is assembled from these through
:mod:`raycil.methods.registry`, and each method's hooks (``raycil/methods/<name>.py``) get their
section as ``self.settings``. The knobs several methods share are in :mod:`raycil.methods.common`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from raycil.schema import Strict, scaled_epochs

if TYPE_CHECKING:
    from raycil.experiment import Experiment


class MethodSettings(Strict):
    """A method's section; ``check`` refuses settings the rest of the experiment cannot run with
    (called only when the experiment runs this method)."""

    def check(self, cfg: Experiment) -> None:
        """Raise ValueError (one line naming the field) if the experiment cannot run this method."""


class FinetuneConfig(MethodSettings):
    """``method.finetune``: ``masked``: cross-entropy over the new classes' logits (needs
    ``memory.mode: none``, as PyCIL's finetune keeps no exemplar)."""

    masked: bool = False

    def check(self, cfg: Experiment) -> None:
        if self.masked and cfg.memory.mode != "none":
            raise ValueError("method.finetune.masked: the masked cross-entropy cannot score old-class "
                             "exemplars; set memory.mode: none (PyCIL's finetune) or masked: false")


class LwfConfig(MethodSettings):
    """``method.lwf``: ``adaptive``: MFGR Eq. 8's step-adaptive weighting of CE and KD
    (off: CE + ``method.kd_weight`` x KD, the original LwF)."""

    adaptive: bool = False


class SsilConfig(MethodSettings):
    """``method.ssil``: ``task_kd``: add the authors' code's task-wise KD (ICCV 2021 version;
    off: the supplied paper's loss, Eq. 3 alone)."""

    task_kd: bool = False

    def check(self, cfg: Experiment) -> None:
        if cfg.train.replay_batch_size < 1:
            raise ValueError("train.replay_batch_size must be >= 1 for method 'ssil' "
                             "(SS-IL needs replay batches)")


class LucirConfig(MethodSettings):
    """``method.lucir``: LUCIR defaults for CIFAR: less-forget weight λ_base (λ = λ_base ·
    sqrt(|C_o| / |C_n|)), margin m and number K of hard negatives of the margin ranking loss;
    weight imprinting of the new classes and the backbone's last ReLU (off, as in LUCIR's code)."""

    lambda_base: float = Field(5.0, ge=0)
    margin: float = Field(0.5, ge=0)
    hard_negatives: int = Field(2, ge=1)
    margin_weight: float = Field(1.0, ge=0)
    imprint: bool = True
    last_relu: bool = False


class WaConfig(MethodSettings):
    """``method.wa``: clip the classifier weights to be non-negative after every step."""

    clip_weights: bool = True


class DerConfig(MethodSettings):
    """``method.der``: auxiliary-loss weight, and the classifier re-training stage on the
    balanced memory: ⌈ratio x ``train.epochs``⌉ epochs, 0 turns it off (official code: 30 epochs
    for 170 of training, lr 0.1, softmax temperature 5)."""

    aux_weight: float = Field(1.0, ge=0)
    retrain_epoch_ratio: float = Field(30 / 170, ge=0)
    retrain_lr: float = Field(0.1, gt=0)
    retrain_temperature: float = Field(5.0, gt=0)

    def retrain_epochs(self, train_epochs: int) -> int:
        return scaled_epochs(self.retrain_epoch_ratio, train_epochs)


class FosterConfig(MethodSettings):
    """``method.foster``: the PyCIL defaults the CIM paper inherits: β1 / β2 of the
    effective-number class weights for boosting / compression, old-logit KD weight λ_okd, and
    compression epochs = ⌈ratio x ``train.epochs``⌉ (130 for 170 boosting epochs). The KD
    temperature is ``method.kd_temperature`` (T = 2)."""

    beta1: float = Field(0.96, gt=0, lt=1)
    beta2: float = Field(0.97, gt=0, lt=1)
    okd_weight: float = Field(1.0, ge=0)
    compression_epoch_ratio: float = Field(130 / 170, gt=0)

    def compression_epochs(self, train_epochs: int) -> int:
        return scaled_epochs(self.compression_epoch_ratio, train_epochs)
