"""A sweep's plan: its YAML (format in :mod:`raycil.sweep.settings`) read with its profile and
``--set`` overrides (routed by :mod:`raycil.sweep.routing`), its base experiment (``extends:``
and ``experiment:``, a variant's own ``extends:``), and its trials (variants x search space x
seeds, :mod:`raycil.sweep.expand`), every one of them validated before Ray starts. Every mistake
is a :class:`~raycil.schema.ConfigError` naming the field and what is allowed.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from raycil.config.composed import ExperimentConfig, build_config
from raycil.config.errors import format_validation_error
from raycil.config.files import read_experiment, read_yaml, select_profile
from raycil.config.overrides import apply_overrides, parse_overrides
from raycil.data.config import DatasetConfig
from raycil.data.protocol import run_contexts
from raycil.schema import ConfigError
from raycil.sweep.checks import check_asha, check_keys, check_trial_resources, check_validation
from raycil.sweep.expand import expand_params
from raycil.sweep.routing import routed, set_routed
from raycil.sweep.settings import VARIANT_BASE, SweepConfig, flatten, plain


@dataclass(frozen=True)
class TrialSpec:
    """One trial: a variant, a seed and the swept parameter values."""

    variant: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)

    def tune_config(self) -> dict[str, Any]:
        return {"variant": self.variant, "seed": self.seed, **self.params}

    @classmethod
    def from_tune_config(cls, config: dict[str, Any]) -> TrialSpec:
        params = {k: plain(v) for k, v in config.items() if k not in ("variant", "seed")}
        return cls(config["variant"], int(config["seed"]), params)

    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.variant} seed={self.seed}" + (f" {extra}" if extra else "")


@dataclass
class SweepPlan:
    """A validated sweep: the sweep settings, the base experiment and (grid/random) its trials.
    A variant with its own ``extends:`` starts from ``variant_bases[variant]`` instead of ``base``
    (that file, its same-named profile, then the sweep's ``experiment:``)."""

    sweep: SweepConfig
    base: dict[str, Any]
    trials: list[TrialSpec]
    source: str
    max_phases: int
    variant_bases: dict[str, dict[str, Any]] = field(default_factory=dict)
    cwd: str = field(default_factory=os.getcwd)  # relative data roots are resolved against it
    # distinct, read before Ray starts: a tree checked and decoded, the generated data drawn into
    # the cache its trials' actors then read (raycil.data.generated)
    datasets: list[DatasetConfig] = field(default_factory=list)
    trial_phases: list[int] = field(default_factory=list)  # (grid / random) each trial's phase count

    @property
    def exp_dir(self) -> Path:
        return (Path(self.sweep.storage_path).expanduser() / self.sweep.name).resolve()

    @property
    def variant_names(self) -> list[str]:
        return list(self.sweep.variants) or ["base"]

    def experiment_data(self, variant: str, seed: int, params: dict[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(self.variant_bases.get(variant, self.base))
        overrides = self.sweep.variants.get(variant, {})
        apply_overrides(data, {k: v for k, v in overrides.items() if k != VARIANT_BASE})
        apply_overrides(data, dict(params))
        data["seed"], data["name"] = seed, f"{self.sweep.name}-{variant}-s{seed}"
        dataset = data.get("dataset") or {}
        for key in ("root", "boxes", "cache_dir"):  # trials run in their own dirs
            path = dataset.get(key)
            if isinstance(path, str) and not os.path.isabs(os.path.expanduser(path)):
                dataset[key] = os.path.join(self.cwd, path)
        return data

    def experiment_config(self, spec: TrialSpec) -> ExperimentConfig:
        """The trial's validated experiment config (base <- variant <- params, seed)."""
        return build_config(self.experiment_data(spec.variant, spec.seed, spec.params))


def _base_experiment(sweep: SweepConfig, extends: str | None, label: str, source: Path,
                     profile: str | None) -> dict[str, Any]:
    """The experiment file ``extends`` (with its profile of the same name, if any), then the
    sweep's ``experiment:`` over it; a file error is led by ``label``."""
    base: dict[str, Any] = {}
    if extends:
        if not isinstance(extends, str):
            raise ConfigError(f"{label}: expected the path of an experiment YAML (got {extends!r})")
        path = (source.parent / extends).expanduser()
        try:
            base = read_experiment(path)
        except ConfigError as err:
            raise ConfigError(f"{label}: {err}") from None
        has_profile = profile in (base.get("profiles") or {})
        base = select_profile(base, profile if has_profile else None)
    return apply_overrides(base, flatten(sweep.experiment))


def _validate(label: str, build: Callable[[], ExperimentConfig]) -> ExperimentConfig:
    """Build one config; a failure is one line led by ``label`` (what was being built)."""
    try:
        return build()
    except ConfigError as err:
        raise ConfigError(f"{label}: {err}") from None


def plan_sweep(path: str | Path, profile: str | None = None,
               overrides: list[str] | dict[str, Any] | None = None) -> SweepPlan:
    """Read, validate and expand a sweep file; every trial config is validated here."""
    source = Path(path)
    data = read_yaml(source)
    profiles = data.get("profiles") or {}
    data = select_profile(data, None)  # pops (and checks) profiles; the named one is applied below
    if profile is not None:
        if profile not in profiles:
            select_profile({"profiles": profiles}, profile)  # raises the unknown-profile error
        set_routed(data, routed(dict(profiles[profile] or {})))
    ov = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    set_routed(data, routed(ov))
    try:
        sweep = SweepConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, SweepConfig)) from None
    base = _base_experiment(sweep, sweep.extends, "extends", source, profile)
    variant_bases = {name: _base_experiment(sweep, o[VARIANT_BASE], f"variants.{name}.{VARIANT_BASE}", source,
                                            profile)
                     for name, o in sweep.variants.items() if VARIANT_BASE in o}
    plan = SweepPlan(sweep, base, [], str(source), 0, variant_bases)

    check_keys(sweep)
    seed = sweep.seeds[0]
    defaults = {k: spec.probe_values()[0] for k, spec in sweep.search_space.items()}

    def check(label: str, variant: str, params: dict[str, Any]) -> ExperimentConfig:
        return _validate(label, lambda: build_config(plan.experiment_data(variant, seed, params)))

    # the base with the search space's first values (a swept key need not be valid alone), each
    # variant, each search-space value (or range end), then every expanded trial
    cfgs = [check("experiment", "", defaults)]
    cfgs += [check(f"variants.{v}", v, defaults) for v in sweep.variants]
    cfgs += [check(f"search_space.{key} = {value!r}", plan.variant_names[0], {**defaults, key: value})
             for key, spec in sweep.search_space.items() for value in spec.probe_values()]
    if sweep.search.kind != "optuna":
        params = expand_params(sweep) if sweep.search_space else [{}]
        plan.trials = [TrialSpec(v, s, p) for v in plan.variant_names for p in params for s in sweep.seeds]
        trial_cfgs = [check(f"trial '{t.label()}'", t.variant, t.params) for t in plan.trials]
        plan.trial_phases = [num_phases(c) for c in trial_cfgs]
        cfgs += trial_cfgs
    check_trial_resources(sweep.resources, cfgs)
    check_validation(sweep, cfgs)
    plan.max_phases = max(num_phases(c) for c in cfgs)
    plan.datasets = list({c.dataset.model_dump_json(): c.dataset for c in cfgs}.values())
    if sweep.scheduler.kind == "asha":
        check_asha(sweep.scheduler, cfgs, plan.max_phases)
    return plan


def num_phases(cfg: ExperimentConfig) -> int:
    """The phases a trial runs (its class schedule's, or ``protocol.stop_after``)."""
    return len(run_contexts(cfg.protocol, cfg.num_classes))
