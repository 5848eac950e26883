"""The experiment schema, composed in one place from the sections (each declared in the leaf
module of its concern) and the two registries: ``method`` gets one section per method that has
settings (:mod:`raycil.methods.registry`), the experiment one section per plug-in
(:mod:`raycil.plugins.registry`). It implements :class:`raycil.experiment.Experiment`, the
protocol the rest of a run reads it through, and imports neither torch nor any learner code.

Every user-facing mistake (unknown key, wrong type, out-of-range value, unknown method or
dataset, missing data root) becomes a :class:`~raycil.schema.ConfigError` whose message is one
line naming the field and what is allowed; the CLIs turn it into exit code 2 before anything is
trained or written.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, ValidationError, create_model, model_validator

from raycil.config.errors import format_validation_error
from raycil.config.files import read_experiment, select_profile
from raycil.config.overrides import apply_overrides, parse_overrides
from raycil.data.config import DatasetConfig, dataset_num_classes
from raycil.data.protocol import ProtocolConfig, phase_sizes
from raycil.learner.config import FP16_ON_CPU, TrainConfig
from raycil.memory.config import MemoryConfig
from raycil.methods.common import MethodCommon
from raycil.methods.registry import METHODS
from raycil.models.config import ModelConfig
from raycil.plugins.registry import PLUGINS
from raycil.schema import ConfigError, Seed, Strict

# The base CIL method (``name``), the shared knobs, and one section per method that declares
# settings (``method.lucir``, ...; the schemas live in raycil/methods/settings.py). Every section
# is always present; a method reads its own and ignores the others.
MethodConfig = create_model(
    "MethodConfig", __base__=MethodCommon, __module__=__name__,
    name=(Literal[tuple(METHODS)], "finetune"),  # type: ignore[valid-type]
    **{name: (m.settings, Field(default_factory=m.settings)) for name, m in METHODS.items() if m.settings},
)


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
        method = METHODS[self.method.name]
        if method.settings is not None:
            getattr(self.method, method.name).check(self)
        storing = []
        for plugin in PLUGINS:
            section = plugin.section(self)
            section.check(self)
            if section.active and section.stores_exemplars:
                storing.append(plugin.name)
        if len(storing) > 1:
            raise ValueError(f"{storing[0]} and {storing[1]} both store the exemplars (a memory has one "
                             "codec); turn one of them off")
        phases = len(phase_sizes(self.protocol, self.num_classes))
        if self.protocol.stop_after is not None and self.protocol.stop_after > phases:
            raise ValueError(f"protocol.stop_after: {self.protocol.stop_after} exceeds the protocol's "
                             f"{phases} phases")
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
# its name (``cim``, ...; the schemas live in raycil/plugins/<plug-in>/config.py).
ExperimentConfig = create_model(
    "ExperimentConfig", __base__=ExperimentBase, __module__=__name__,
    **{p.name: (p.settings, Field(default_factory=p.settings)) for p in PLUGINS},
)


def build_config(data: dict[str, Any]) -> ExperimentConfig:
    """Validate an experiment's settings (nested dicts); a mistake is one-line ConfigError."""
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, ExperimentConfig)) from None
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
