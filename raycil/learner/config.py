"""The ``train`` section of the experiment schema (the optimisation of every phase), importable
without torch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from raycil.schema import Strict

# fp16 autocast runs on a CPU, but without fp16 arithmetic it is emulated: a ResNet-20 training step
# took 17x fp32's time on this project's CPU (bf16 0.54x), so fp16 is refused there, not slow
FP16_ON_CPU = "train.precision: fp16 needs a CUDA device; use bf16 or fp32 on the CPU"


class ScheduleConfig(Strict):
    """``milestones``: fractions of the phase's epochs (PyCIL's [60, 120, 170] of 200 epochs is
    [0.3, 0.6, 0.85]); ``gamma``: the lr factor at each."""

    kind: Literal["cosine", "multistep"] = "cosine"
    milestones: list[float] = Field(default_factory=lambda: [0.5, 0.75])
    gamma: float = Field(0.1, gt=0, le=1)


class BalancedFinetuneConfig(Strict):
    """Class-balanced fine-tuning on the memory after a phase (phases 2..N). The defaults are LUCIR's
    released code (``cb_finetune`` with its default ``ft_flag`` 2): the classifier's embeddings train
    with the feature extractor fixed, batch norm in eval mode (its running statistics are the
    phase's, not re-estimated on the memory), the method's own loss (LUCIR: CE + λ·L_dis + L_mr
    against the previous network), the cosine scale η fixed. ``freeze_bn: false``, ``loss: ce`` and
    ``train_scale: true`` are the stage as raycil ran it before. ``schedule``: null is ``train.schedule``."""

    epochs: int = Field(0, ge=0)
    lr: float = Field(0.01, gt=0)
    head_only: bool = True
    freeze_bn: bool = True
    loss: Literal["method", "ce"] = "method"
    train_scale: bool = False
    schedule: ScheduleConfig | None = None


class TrainConfig(Strict):
    """The optimisation of every phase; the first phase's epochs, lr, and (when given) weight
    decay and schedule apart from the incremental phases' (PyCIL's init_* settings)."""

    epochs_first: int = Field(10, ge=0)
    epochs: int = Field(10, ge=0)
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(256, ge=1)
    lr_first: float = Field(0.1, gt=0)
    lr: float = Field(0.1, gt=0)
    # constant: every incremental phase starts at ``lr``; inverse: phase p (1-based) starts at lr / p
    # (SS-IL Algorithm 1 and §6.2, the authors' code: lr / (t + 1) for the 0-based task t)
    lr_over_phases: Literal["constant", "inverse"] = "constant"
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(5e-4, ge=0)
    weight_decay_first: float | None = Field(None, ge=0)  # None: weight_decay
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    schedule_first: ScheduleConfig | None = None  # None: schedule
    replay_batch_size: int = Field(0, ge=0)
    balanced_finetune: BalancedFinetuneConfig = Field(default_factory=BalancedFinetuneConfig)
    progress: bool = True
    # fp32: as before, to the last digit; bf16 / fp16: torch.autocast around the training loop's
    # forward + loss and the evaluation forwards (fp16 with a GradScaler, CUDA only: FP16_ON_CPU)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    channels_last: bool = False  # the model and its input batches in torch.channels_last

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> TrainConfig:
        if self.nesterov and self.momentum == 0:
            raise ValueError("train.nesterov: true needs train.momentum > 0")
        return self
