"""Experiment settings: the schema (:mod:`~raycil.config.composed`), its YAML files with
``extends:`` and profiles (:mod:`~raycil.config.files`), dotted ``--set`` overrides
(:mod:`~raycil.config.overrides`) and one-line errors (:mod:`~raycil.config.errors`). Nothing here
loads torch."""

from raycil.config.composed import ExperimentConfig, MethodConfig, build_config, load_config
from raycil.schema import ConfigError

__all__ = ["ConfigError", "ExperimentConfig", "MethodConfig", "build_config", "load_config"]
