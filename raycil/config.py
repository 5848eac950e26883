"""Typed experiment schema, YAML loading, dotted ``--set`` overrides and one-line errors.

Every user-facing mistake (unknown key, wrong type, out-of-range value, unknown method or
dataset, missing data root) becomes a :class:`ConfigError` whose message is one line naming the
field and what is allowed; the CLIs turn it into exit code 2 before anything is trained or
written.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, create_model, model_validator

from raycil.data.config import DatasetConfig
from raycil.data.protocol import phase_sizes
from raycil.data.registry import dataset_num_classes
from raycil.inference import FP16_ON_CPU
from raycil.memory.config import MemoryConfig
from raycil.methods import METHODS
from raycil.plugins import PLUGINS
from raycil.schema import ConfigError, Seed, Strict

__all__ = ["ConfigError", "ExperimentConfig", "MethodConfig", "load_config", "build_config"]


class ProtocolConfig(Strict):
    """LFS: N equal phases; LFH: half of the classes first, then N phases; custom: first/increment."""

    kind: Literal["lfs", "lfh", "custom"] = "lfs"
    num_phases: int = Field(5, ge=1)
    first: int | None = Field(None, ge=1)
    increment: int | None = Field(None, ge=1)


class ModelConfig(Strict):
    """The backbone (``width``: of resnet18_narrow) and ``weight_transfer``: from the second phase,
    train per-filter scales of the previous phase's convolutions instead of the convolutions
    (Mnemonics supplementary Eq. 11-14; ``raycil.models.transfer``)."""

    backbone: Literal["auto", "resnet18", "resnet32", "resnet20", "resnet18_narrow"] = "auto"
    width: int = Field(20, ge=4, le=128)
    weight_transfer: bool = False


class MethodCommon(Strict):
    """The knobs several methods share (KD temperature and weight; iCaRL's NME as the primary
    accuracy)."""

    kd_temperature: float = Field(2.0, gt=0)
    kd_weight: float = Field(1.0, ge=0)
    nme: bool = True


# The base CIL method (``name``), the shared knobs, and one section per method that declares
# settings (``method.lucir``, ...; the schema lives in raycil/methods/<name>.py). Every section is
# always present; a method reads its own and ignores the others.
MethodConfig = create_model(
    "MethodConfig", __base__=MethodCommon, __module__=__name__,
    name=(Literal[tuple(METHODS)], "finetune"),  # type: ignore[valid-type]
    **{name: (m.settings, Field(default_factory=m.settings)) for name, m in METHODS.items() if m.settings},
)


class ScheduleConfig(Strict):
    """``milestones``: fractions of the phase's epochs (PyCIL's [60, 120, 170] of 200 epochs is
    [0.3, 0.6, 0.85]); ``gamma``: the lr factor at each."""

    kind: Literal["cosine", "multistep"] = "cosine"
    milestones: list[float] = Field(default_factory=lambda: [0.5, 0.75])
    gamma: float = Field(0.1, gt=0, le=1)


class BalancedFinetuneConfig(Strict):
    """Class-balanced fine-tuning on the memory after a phase (phases 2..N)."""

    epochs: int = Field(0, ge=0)
    lr: float = Field(0.01, gt=0)
    head_only: bool = True


class TrainConfig(Strict):
    """The optimisation of every phase; the first phase's epochs, lr, and (when given) weight
    decay and schedule apart from the incremental phases' (PyCIL's init_* settings)."""

    epochs_first: int = Field(10, ge=0)
    epochs: int = Field(10, ge=0)
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(256, ge=1)
    lr_first: float = Field(0.1, gt=0)
    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
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


class ExperimentBase(Strict):
    """An experiment's core sections; :data:`ExperimentConfig` adds one section per plug-in."""

    name: str = "experiment"
    seed: Seed = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(1, ge=1, le=1024)  # torch threads training the run: metrics depend on it
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    method: MethodConfig = Field(default_factory=MethodConfig)  # type: ignore[valid-type]
    train: TrainConfig = Field(default_factory=TrainConfig)

    @model_validator(mode="after")
    def _check_cross_fields(self) -> ExperimentBase:
        METHODS[self.method.name].check(self)
        storing = []
        for plugin in PLUGINS:
            section = plugin.section(self)
            section.check(self)
            if section.active and section.stores_exemplars:
                storing.append(plugin.name)
        if len(storing) > 1:
            raise ValueError(f"{storing[0]} and {storing[1]} both store the exemplars (a memory has one "
                             "codec); turn one of them off")
        phase_sizes(self.protocol, self.num_classes)
        if self.train.precision == "fp16" and self.device == "cpu":  # device auto: raycil.learner
            raise ValueError(FP16_ON_CPU)
        return self

    @property
    def num_classes(self) -> int:
        return dataset_num_classes(self.dataset)

    @property
    def keeps_memory(self) -> bool:
        """The method trains on D_i ∪ memory and the memory may hold exemplars."""
        return METHODS[self.method.name].uses_memory and self.memory.mode != "none"

    @property
    def refines_exemplars(self) -> bool:
        """An active plug-in rewrites the stored exemplars after each memory update."""
        return self.keeps_memory and any(
            s.active and s.refines_exemplars for s in (p.section(self) for p in PLUGINS))

    @property
    def records_generator(self) -> bool:
        """An active plug-in records a generator for the memory after each phase (MFGR)."""
        return any(s.active and s.records_generator for s in (p.section(self) for p in PLUGINS))


# The experiment schema: the core sections above plus each registered plug-in's settings under
# its name (``cim``, ...; the schema lives in raycil/<plug-in>/config.py).
ExperimentConfig = create_model(
    "ExperimentConfig", __base__=ExperimentBase, __module__=__name__,
    **{p.name: (p.settings, Field(default_factory=p.settings)) for p in PLUGINS},
)


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


def _other_dataset(section: Any, name: Any) -> bool:
    """``name`` names another dataset than ``section`` (a dataset section) does."""
    return isinstance(section, dict) and name is not None and section.get("name", "synthetic") != name


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Dotted overrides; ``dataset.name`` naming another dataset starts the section afresh, so
    the generated data's knobs (num_classes, image_size, ...) do not carry over to a tree."""
    if _other_dataset(data.get("dataset"), overrides.get("dataset.name")):
        data["dataset"] = {}
    for key, value in overrides.items():
        set_dotted(data, key, value)
    return data


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last
    silently: a second ``train:`` section would drop the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_where(exc: yaml.YAMLError) -> str:
    """`` at line L, column C: what is wrong`` from a PyYAML error (what it knows of it)."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {problem}" if problem else where


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML file's top-level mapping; an absent, unreadable, non-UTF-8, malformed or empty file
    is a one-line ConfigError naming it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"config file '{path}' does not exist")
    if not p.is_file():
        raise ConfigError(f"'{path}' is not a file; expected a YAML file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML{_yaml_where(exc)}") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty; it needs at least one section")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid over ``base``: sections merge key by key, any other value replaces (and a
    dataset section naming another dataset replaces the whole section)."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        both = both and not (key == "dataset" and _other_dataset(out[key], value.get("name")))
        out[key] = merged(out[key], value) if both else value
    return out


def read_experiment(path: str | os.PathLike[str], seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """An experiment YAML with its ``extends:`` chain resolved: the extended file (a path
    relative to this one) first, this file's sections merged over it, and the two files'
    ``profiles`` merged by name (this file's keys win)."""
    p = Path(path).expanduser().resolve()
    if p in seen:
        raise ConfigError(f"{path}: extends itself (through {' -> '.join(s.name for s in seen)})")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: expected the path of an experiment YAML (got {parent!r})")
    base = read_experiment(p.parent / parent, (*seen, p))
    profiles = {name: {**(base.get("profiles", {}).get(name) or {}), **(over or {})}
                for name, over in (data.get("profiles") or {}).items()}
    return merged(base, {**data, "profiles": {**(base.get("profiles") or {}), **profiles}})


def select_profile(data: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """Pop ``profiles:`` and apply the named one's dotted overrides."""
    profiles = data.pop("profiles", None) or {}
    if not isinstance(profiles, dict):
        raise ConfigError("profiles: must map profile names to {dotted.key: value} overrides")
    if profile is None:
        return data
    if not profiles:
        raise ConfigError(f"--profile: unknown profile '{profile}'; the file has no profiles: section")
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
    """Read YAML (``extends:`` resolved), apply a profile then ``--set`` overrides, and validate."""
    data = read_experiment(path) if path is not None else {}
    data = select_profile(data, profile)
    ov = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    return build_config(apply_overrides(data, ov))
