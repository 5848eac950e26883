"""Typed experiment schema, YAML loading, dotted ``--set`` overrides and one-line errors.

Every user-facing mistake (unknown key, wrong type, out-of-range value, unknown method or
dataset, missing data root) becomes a :class:`ConfigError` whose message is one line naming the
field and what is allowed; the CLIs turn it into exit code 2 before anything is trained or
written.
"""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """A bad configuration: the message is one line naming the field and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


DatasetName = Literal["synthetic", "cifar100", "imagenet100", "imagenet1000", "food101"]
FILE_DATASETS = ("cifar100", "imagenet100", "imagenet1000", "food101")


class DatasetConfig(_Strict):
    name: DatasetName = "synthetic"
    root: str | None = None
    num_classes: int = Field(20, ge=2, le=1000)
    image_size: int = Field(32, ge=16, le=512)
    train_per_class: int = Field(100, ge=2)
    test_per_class: int = Field(30, ge=1)
    data_seed: int = 0
    class_order: list[int] | None = None
    class_order_seed: int = 1993

    @model_validator(mode="after")
    def _check_root(self) -> DatasetConfig:
        from raycil.data.synthetic import MAX_CLASSES  # local import: keeps config importable alone

        if self.name == "synthetic" and self.num_classes > MAX_CLASSES:
            raise ValueError(f"dataset.num_classes: {self.num_classes} exceeds the {MAX_CLASSES} classes "
                             "the synthetic dataset can draw (shape x colour x texture)")
        if self.name in FILE_DATASETS:
            if not self.root:
                raise ValueError(f"dataset.root is required for dataset '{self.name}' (a local directory)")
            if not Path(os.path.expanduser(self.root)).is_dir():
                raise ValueError(f"dataset.root: directory '{self.root}' does not exist")
        return self


class ProtocolConfig(_Strict):
    """LFS: N equal phases; LFH: half of the classes first, then N phases; custom: first/increment."""

    kind: Literal["lfs", "lfh", "custom"] = "lfs"
    num_phases: int = Field(5, ge=1)
    first: int | None = Field(None, ge=1)
    increment: int | None = Field(None, ge=1)


class MemoryConfig(_Strict):
    """Budget in memory units (DESIGN.md): fixed = M units in total, growing = m units per class."""

    mode: Literal["fixed", "growing", "none"] = "fixed"
    budget: float = Field(200, ge=0)
    selection: Literal["herding", "random"] = "herding"


class ModelConfig(_Strict):
    backbone: Literal["auto", "resnet18", "resnet32", "resnet20", "resnet18_narrow"] = "auto"
    width: int = Field(20, ge=4, le=128)


def scaled_epochs(ratio: float, epochs: int) -> int:
    """⌈ratio x epochs⌉ for a second training stage sized relative to ``train.epochs``."""
    return math.ceil(round(ratio * epochs, 6))


class LucirConfig(_Strict):
    """LUCIR (Hou et al. 2019) defaults for CIFAR: less-forget weight λ_base (λ = λ_base ·
    sqrt(|C_o| / |C_n|)), margin m and number K of hard negatives of the margin ranking loss."""

    lambda_base: float = Field(5.0, ge=0)
    margin: float = Field(0.5, ge=0)
    hard_negatives: int = Field(2, ge=1)
    margin_weight: float = Field(1.0, ge=0)


class WaConfig(_Strict):
    """WA (Zhao et al. 2020): clip the classifier weights to be non-negative after every step."""

    clip_weights: bool = True


class DerConfig(_Strict):
    """DER (Yan et al. 2021): auxiliary-loss weight, and the classifier re-training stage on the
    balanced memory: ⌈ratio x ``train.epochs``⌉ epochs, 0 turns it off (official code: 30 epochs for
    170 of training, lr 0.1, softmax temperature 5)."""

    aux_weight: float = Field(1.0, ge=0)
    retrain_epoch_ratio: float = Field(30 / 170, ge=0)
    retrain_lr: float = Field(0.1, gt=0)
    retrain_temperature: float = Field(5.0, gt=0)

    def retrain_epochs(self, train_epochs: int) -> int:
        return scaled_epochs(self.retrain_epoch_ratio, train_epochs)


class FosterConfig(_Strict):
    """FOSTER (Wang et al. 2022) with the PyCIL defaults the CIM paper inherits: β1 / β2 of the
    effective-number class weights for boosting / compression, old-logit KD weight λ_okd, and
    compression epochs = ⌈ratio x ``train.epochs``⌉ (130 for 170 boosting epochs). The KD temperature
    is ``method.kd_temperature`` (T = 2)."""

    beta1: float = Field(0.96, gt=0, lt=1)
    beta2: float = Field(0.97, gt=0, lt=1)
    okd_weight: float = Field(1.0, ge=0)
    compression_epoch_ratio: float = Field(130 / 170, gt=0)

    def compression_epochs(self, train_epochs: int) -> int:
        return scaled_epochs(self.compression_epoch_ratio, train_epochs)


class MethodConfig(_Strict):
    """The base CIL method and its own knobs (unused knobs are ignored by other methods);
    ``lucir`` / ``wa`` / ``der`` / ``foster`` hold those methods' own hyperparameters."""

    name: Literal["finetune", "icarl", "lwf", "ssil", "joint", "lucir", "wa", "der", "foster"] = "finetune"
    kd_temperature: float = Field(2.0, gt=0)
    kd_weight: float = Field(1.0, ge=0)
    nme: bool = True
    lucir: LucirConfig = Field(default_factory=LucirConfig)
    wa: WaConfig = Field(default_factory=WaConfig)
    der: DerConfig = Field(default_factory=DerConfig)
    foster: FosterConfig = Field(default_factory=FosterConfig)


class ScheduleConfig(_Strict):
    kind: Literal["cosine", "multistep"] = "cosine"
    milestones: list[float] = Field(default_factory=lambda: [0.5, 0.75])
    gamma: float = Field(0.1, gt=0, le=1)


class BalancedFinetuneConfig(_Strict):
    """Class-balanced fine-tuning on the memory after a phase (phases 2..N)."""

    epochs: int = Field(0, ge=0)
    lr: float = Field(0.01, gt=0)
    head_only: bool = True


class TrainConfig(_Strict):
    epochs_first: int = Field(10, ge=0)
    epochs: int = Field(10, ge=0)
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(256, ge=1)
    lr_first: float = Field(0.1, gt=0)
    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    replay_batch_size: int = Field(0, ge=0)
    balanced_finetune: BalancedFinetuneConfig = Field(default_factory=BalancedFinetuneConfig)
    progress: bool = True


class CimConfig(_Strict):
    """CIM plug-in (Luo et al., CVPR 2023), defaults from §5.1: exemplar compression
    (``boxes``: none = plain exemplars, full = whole image downsampled, random / center = fixed
    boxes, cam = CAM boxes (Eq. 1-2), cim = boxes from the learned-activation branch), threshold
    τ, downsampling ratio η in area (η′ inside the box, 1 = untouched), artifact augmentation
    (§4.1; refresh / step periods given for ``artifact_of_epochs`` and rescaled to the phase's
    epochs), phase-wise τ picked on a held-out share of D_i, and the mask-level optimization of
    φ (``mask_learning``: bilevel = Algorithm 1 / Eq. 5-9, joint = one loss per batch, no inner
    step) with its learning rates β1 / β2, weights μ / μ′ and φ's gradient-norm clip; the
    bilevel step runs ``outer_steps`` times per epoch on ``outer_batch_size`` new images plus as
    many exemplars."""

    boxes: Literal["none", "full", "random", "center", "cam", "cim"] = "none"
    tau: float = Field(0.6, ge=0, lt=1)
    eta: float = Field(4.0, ge=1)
    eta_inner: float = Field(1.0, ge=1)
    artifact_aug: bool = False
    artifact_refresh_epochs: int = Field(40, ge=1)
    artifact_step_epochs: int = Field(40, ge=1)
    artifact_step: float = Field(0.1, ge=0, le=1)
    artifact_of_epochs: int = Field(170, ge=1)
    phase_wise_tau: bool = False
    tau_grid: list[float] = Field(default_factory=lambda: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    tau_tolerance: float = Field(2.0, ge=0)
    holdout: float = Field(0.1, gt=0, lt=1)
    mask_learning: Literal["bilevel", "joint"] = "bilevel"
    last_block_only: bool = False
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
    def learns_masks(self) -> bool:
        return self.boxes == "cim"


class ExperimentConfig(_Strict):
    name: str = "experiment"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    method: MethodConfig = Field(default_factory=MethodConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    cim: CimConfig = Field(default_factory=CimConfig)

    @model_validator(mode="after")
    def _check_cross_fields(self) -> ExperimentConfig:
        if self.method.name == "ssil" and self.train.replay_batch_size < 1:
            raise ValueError(
                "train.replay_batch_size must be >= 1 for method 'ssil' (SS-IL needs replay batches)"
            )
        if self.cim.boxes != "none" and (self.memory.mode == "none" or not _uses_memory(self.method.name)):
            raise ValueError(f"cim.boxes: '{self.cim.boxes}' compresses exemplars, but method "
                             f"'{self.method.name}' with memory.mode '{self.memory.mode}' keeps none")
        if self.cim.phase_wise_tau and self.cim.boxes not in ("cam", "cim"):
            raise ValueError("cim.phase_wise_tau needs cim.boxes 'cam' or 'cim' (τ thresholds a CAM)")
        from raycil.data.protocol import phase_sizes  # local import: keeps config importable alone

        phase_sizes(self.protocol, self.num_classes)
        return self

    @property
    def num_classes(self) -> int:
        from raycil.data.registry import dataset_num_classes

        return dataset_num_classes(self.dataset)


def _uses_memory(method: str) -> bool:
    from raycil.methods import METHODS  # local import: keeps config importable alone

    return METHODS[method].uses_memory


# ----------------------------------------------------------------------------- loading

def _nearest(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{hint}; allowed: {', '.join(sorted(allowed))}"


def _model_at(loc: tuple[Any, ...], root: type[BaseModel] = ExperimentConfig) -> type[BaseModel] | None:
    model: Any = root
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        model = field.annotation
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def format_validation_error(err: ValidationError, root: type[BaseModel] = ExperimentConfig) -> str:
    """The first pydantic error as one line: ``field.path: what is wrong; what is allowed``."""
    e = err.errors()[0]
    loc = tuple(p for p in e["loc"] if p not in ("__root__",))
    field = ".".join(str(p) for p in loc)
    kind = e["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1], root)
        allowed = list(parent.model_fields) if parent else []
        return f"{field}: unknown key{_nearest(str(loc[-1]), allowed)}"
    if kind == "literal_error":
        return f"{field}: {e['input']!r} is not allowed; {e['msg'].lower()}"
    if kind == "value_error":
        msg = str(e.get("ctx", {}).get("error", e["msg"]))
        named = not field or msg.startswith((f"{field}.", f"{field}:"))  # the message names its field
        return msg if named else f"{field}: {msg}"
    return f"{field}: {e['msg'].lower()} (got {e['input']!r})"


def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML scalar/list syntax (``3``, ``0.1``, ``true``, ``[1,2]``, ``null``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set value {text!r} is not valid YAML: {exc.problem}") from None


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c = value`` inside nested dicts, creating levels as needed."""
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"--set key {dotted!r} is not a dotted path like train.epochs")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{dotted}: '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["train.epochs=3", ...]`` to ``{"train.epochs": 3}``; a missing '=' is a ConfigError."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.epochs=3")
        key, _, text = item.partition("=")
        out[key.strip()] = parse_value(text)
    return out


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        set_dotted(data, key, value)
    return data


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def select_profile(data: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """Pop ``profiles:`` and apply the named one's dotted overrides."""
    profiles = data.pop("profiles", None) or {}
    if not isinstance(profiles, dict):
        raise ConfigError("profiles: must map profile names to {dotted.key: value} overrides")
    if profile is None:
        return data
    if profile not in profiles:
        raise ConfigError(f"--profile: unknown profile '{profile}'{_nearest(profile, list(profiles))}")
    return apply_overrides(data, dict(profiles[profile] or {}))


def build_config(data: dict[str, Any]) -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None
    except ValueError as err:  # cross-field checks raised outside pydantic's wrapping
        raise ConfigError(str(err)) from None


def load_config(
    path: str | os.PathLike[str] | None,
    profile: str | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> ExperimentConfig:
    """Read YAML, apply a profile then ``--set`` overrides, and validate."""
    data = read_yaml(path) if path is not None else {}
    data = select_profile(data, profile)
    ov = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    return build_config(apply_overrides(data, ov))
