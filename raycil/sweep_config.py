"""Sweep YAML: a base experiment, named variants, a search space and seeds, expanded into
validated trial configs before Ray starts.

    name: ssil_replay
    extends: ../configs/finetune.yaml       # base experiment file (its same-named profile too)
    experiment: {method: {name: ssil}}      # inline base experiment, merged over `extends`
    variants: {baseline: {}, herding: {memory.selection: herding},   # ablation rows; a row may
               LUCIR: {extends: ../configs/lucir.yaml}}             # start from its own file
    search_space:                           # dotted experiment keys
      train.replay_batch_size: {grid: [8, 16, 32]}
      train.lr: {loguniform: [0.01, 0.1]}
    seeds: [0, 1, 2]
    objective: {metric: avg_inc_acc, mode: max}
    search: {kind: grid, num_samples: 1, seed: 0}        # grid | random | optuna (TPE)
    scheduler: {kind: asha}                              # fifo | asha (rungs in phases, from phase 2)
    resources: {cpu: 1, gpu: 0}                          # per trial; fractional GPUs allowed
    max_concurrent: 2
    storage_path: runs/sweeps                            # outputs in storage_path/name
    profiles: {smoke: {seeds: [0], train.epochs: 1}}

Profile and ``--set`` keys whose first part is an experiment section (``train.epochs``) address
the base experiment; the others address the sweep (``seeds``, ``search.num_samples``). Every
mistake is a :class:`~raycil.config.ConfigError` naming the field and what is allowed.
"""

from __future__ import annotations

import copy
import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from raycil.config import (
    DatasetConfig,
    ExperimentConfig,
    MethodConfig,
    _model_at,
    _nearest,
    apply_overrides,
    build_config,
    format_validation_error,
    parse_overrides,
    read_experiment,
    read_yaml,
    select_profile,
)
from raycil.data.protocol import phase_sizes
from raycil.schema import ConfigError, Seed, Strict

# Plug-ins planned in DESIGN.md that this build may not have yet: a sweep that needs one fails
# with one line saying so, instead of a generic unknown-key error.
PLANNED = {"mnemonics": "Mnemonics", "mfgr": "MFGR"}

Metric = Literal["avg_inc_acc", "last_acc", "forgetting", "avg_imbalance",
                 "top1", "top5", "old_acc", "new_acc", "first_acc", "imbalance"]

PARAM_KINDS = {
    "grid": "a non-empty list of values, each tried",
    "choice": "a non-empty list of values, one drawn per sample",
    "uniform": "[low, high] with low < high",
    "quniform": "[low, high, q] with low < high and q > 0",
    "loguniform": "[low, high] with 0 < low < high",
    "qloguniform": "[low, high, q] with 0 < low < high and q > 0",
    "randint": "integers [low, high) with low < high",
    "qrandint": "integers [low, high, q] (high included) with low < high and q > 0",
    "lograndint": "integers [low, high) with 0 < low < high",
}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]*$")
VARIANT_BASE = "extends"  # a variant key: the experiment file the row starts from


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | bool | int | float)


def plain(v: Any) -> Any:
    """NumPy scalars (Tune's samplers, pandas cells) as plain Python values (YAML/JSON friendly)."""
    return v.item() if isinstance(v, np.generic) else v


def _draw(spec: ParamSpec, rng: np.random.RandomState) -> Any:
    """One seeded draw (quantized floats rounded, so 0.30000000000000004 reads 0.3)."""
    v = plain(spec.domain().sample(random_state=rng))
    return round(v, 12) if isinstance(v, float) else v


class ParamSpec(BaseModel):
    """One search-space entry: ``{kind: args}`` in YAML, or a bare list meaning ``{grid: list}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["grid", "choice", "uniform", "quniform", "loguniform", "qloguniform",
                  "randint", "qrandint", "lograndint"]
    args: list[Any]

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, raw: Any) -> Any:
        if isinstance(raw, list):
            return {"kind": "grid", "args": raw}
        if isinstance(raw, dict) and set(raw) == {"kind", "args"}:
            return raw
        if isinstance(raw, dict) and len(raw) == 1:
            kind, args = next(iter(raw.items()))
            if kind not in PARAM_KINDS:
                raise ValueError(f"unknown distribution {kind!r}; allowed: {', '.join(PARAM_KINDS)}")
            if not isinstance(args, list):
                raise ValueError(f"{kind} takes {PARAM_KINDS[kind]} (got {args!r})")
            return {"kind": kind, "args": args}
        raise ValueError(f"expected {{distribution: arguments}} with one of {', '.join(PARAM_KINDS)} "
                         f"(got {raw!r})")

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        kind, args, need = self.kind, self.args, PARAM_KINDS[self.kind]
        if kind in ("grid", "choice"):
            if not args or not all(_scalar(a) for a in args):
                raise ValueError(f"{kind} takes {need} (got {args!r})")
            return self
        n = 3 if kind.startswith("q") else 2
        integer = kind.endswith("randint")
        ok = len(args) == n and all(isinstance(a, int if integer else int | float)
                                    and not isinstance(a, bool) for a in args)
        if ok:
            low, high = args[0], args[1]
            ok = low < high and (not kind.startswith(("log", "qlog")) or low > 0) and (n == 2 or args[2] > 0)
        if not ok:
            raise ValueError(f"{kind} takes {need} (got {args!r})")
        return self

    def domain(self) -> Any:
        """The Ray Tune domain (its samplers draw random values; OptunaSearch converts it)."""
        from ray import tune

        if self.kind == "grid":
            return tune.grid_search(self.args)
        if self.kind == "choice":
            return tune.choice(self.args)
        return getattr(tune, self.kind)(*self.args)

    def probe_values(self) -> list[Any]:
        """Values that validate the entry up front: every listed value, or both range ends."""
        if self.kind in ("grid", "choice"):
            return list(self.args)
        low, high = self.args[0], self.args[1]
        return [low, high - 1 if self.kind in ("randint", "lograndint") else high]


class Objective(Strict):
    metric: Metric = "avg_inc_acc"
    mode: Literal["max", "min"] = "max"


class Search(Strict):
    kind: Literal["grid", "random", "optuna"] = "grid"
    num_samples: int = Field(1, ge=1)
    seed: int = Field(0, ge=0, lt=2**32)  # Optuna's sampler seed (a NumPy RandomState's range)


class Scheduler(Strict):
    """``fifo`` runs every trial to its last phase; ``asha`` (Li et al. 2020) stops weak ones at
    rungs counted in phases: grace_period, grace_period x reduction_factor, ... By default the
    first rung is phase 2, the first incremental phase: after phase 1 the memory is empty and
    every setting that acts on old classes or replay ties. The reduction factor is Tune's (and
    the ASHA paper's) 4: a quarter of the trials reaching a rung go on."""

    kind: Literal["fifo", "asha"] = "fifo"
    grace_period: int = Field(2, ge=1)
    reduction_factor: float = Field(4.0, gt=1)
    brackets: int = Field(1, ge=1)


class Resources(Strict):
    """Per trial: ``cpu`` in total (the trial's driver and MemoryActor take ``driver_cpu`` and
    ``memory_cpu`` of it, the LearnerActor the rest) and ``gpu`` for the LearnerActor."""

    cpu: float = Field(1.0, gt=0)
    gpu: float = Field(0.0, ge=0)
    memory_cpu: float = Field(0.1, gt=0)
    driver_cpu: float = Field(0.05, gt=0)

    @model_validator(mode="after")
    def _check_split(self) -> Resources:
        if self.learner_cpu <= 0:
            raise ValueError(f"resources.cpu ({self.cpu}) must exceed memory_cpu + driver_cpu "
                             f"({self.memory_cpu + self.driver_cpu:g}): the LearnerActor needs a share")
        if self.gpu > 1 and self.gpu != int(self.gpu):
            raise ValueError(f"resources.gpu: {self.gpu} is allowed below 1 or as a whole number")
        return self

    @property
    def learner_cpu(self) -> float:
        return round(self.cpu - self.memory_cpu - self.driver_cpu, 6)

    @property
    def learner_threads(self) -> int:
        """The most torch threads the LearnerActor's CPUs carry (one per CPU, at least one)."""
        return max(1, int(round(self.learner_cpu)))


class SweepConfig(Strict):
    name: str = "sweep"
    extends: str | None = None
    experiment: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    search_space: dict[str, ParamSpec] = Field(default_factory=dict)
    seeds: list[Seed] = Field(default_factory=lambda: [0], min_length=1)
    objective: Objective = Field(default_factory=Objective)
    search: Search = Field(default_factory=Search)
    scheduler: Scheduler = Field(default_factory=Scheduler)
    resources: Resources = Field(default_factory=Resources)
    max_concurrent: int | None = Field(None, ge=1)
    max_failures: int = Field(3, ge=0)
    storage_path: str = "runs/sweeps"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(f"{v!r} must be a file-name-safe word (letters, digits, _ . + = -)")
        return v

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any]]:
        for name in v:
            if not NAME.match(str(name)):
                raise ValueError(f"variant name {name!r} must be a file-name-safe word")
        return {str(k): flatten(o or {}) for k, o in v.items()}

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct (got {v})")
        return v

    @model_validator(mode="after")
    def _check_search(self) -> SweepConfig:
        for key in self.search_space:
            if key in ("seed", "name"):
                raise ValueError(f"search_space.{key}: not sweepable (list seeds under seeds:)")
        grids = [k for k, s in self.search_space.items() if s.kind == "grid"]
        ranges = [k for k, s in self.search_space.items() if s.kind != "grid"]
        kind = self.search.kind
        if kind == "grid" and ranges:
            raise ValueError(f"search_space.{ranges[0]}: a {self.search_space[ranges[0]].kind} entry needs "
                             "search.kind random or optuna (grid search takes only grid: [values])")
        if kind == "grid" and self.search.num_samples != 1:
            raise ValueError("search.num_samples: grid search runs each grid point once per seed; "
                             "repeat with seeds: instead")
        if kind == "optuna":
            if grids:
                raise ValueError(f"search_space.{grids[0]}: grid entries cannot be searched by Optuna; "
                                 "use choice: [values]")
            if not ranges:
                raise ValueError("search.kind optuna needs a search_space to search")
            if len(self.variants) > 1 or len(self.seeds) > 1:
                raise ValueError("search.kind optuna: TPE proposes one setting per trial, so use one "
                                 "seed and at most one variant (repeat settings with kind random)")
        return self


# ----------------------------------------------------------------------------- loading

def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"epochs": 3}}`` to ``{"train.epochs": 3}`` (keys already dotted stay)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))  # an empty section sets nothing
        else:
            out[dotted] = value
    return out


def route(key: str) -> str:
    """A profile or ``--set`` key: experiment sections go under ``experiment.``, the rest is sweep."""
    head = key.split(".", 1)[0]
    if head not in SweepConfig.model_fields and head in ExperimentConfig.model_fields:
        return f"experiment.{key}"
    return key


def _routed(overrides: dict[str, Any]) -> dict[str, Any]:
    return {route(k): v for k, v in overrides.items()}


def _set_routed(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Apply dotted overrides; ``search_space.<dotted key>`` and ``variants.<name>.<dotted key>``
    keep the experiment key whole instead of nesting it."""
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] == "search_space" and len(parts) > 1:
            data.setdefault("search_space", {})[".".join(parts[1:])] = value
        elif parts[0] == "variants" and len(parts) > 2:
            data.setdefault("variants", {}).setdefault(parts[1], {})[".".join(parts[2:])] = value
        else:
            apply_overrides(data, {key: value})


def _needs_plugin(key: str, value: Any = None) -> str | None:
    """The planned plug-in a key (or a ``method.name`` value) asks for, if the schema lacks it."""
    if key == "method.name":
        known = get_args(MethodConfig.model_fields["name"].annotation)
        return PLANNED.get(str(value)) if str(value) not in known else None
    parts = key.split(".")
    named = [p for p in parts if p in PLANNED]
    if not named:
        return None
    parent = _model_at(tuple(parts[:-1]))
    return None if parent is not None and parts[-1] in parent.model_fields else PLANNED[named[0]]


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


def _check_plugins(sweep: SweepConfig, base: dict[str, Any]) -> None:
    """A key or method a planned plug-in would bring, asked for before that plug-in exists."""
    sections = [("experiment.", flatten(base)), ("search_space.", dict(sweep.search_space))]
    sections += [(f"variants.{name}.", overrides) for name, overrides in sweep.variants.items()]
    for section, keys in sections:
        for key, value in keys.items():
            plugin = _needs_plugin(key, value)
            if plugin:
                raise ConfigError(f"{section}{key}: needs {plugin}, which this raycil build does not "
                                  "implement yet (a DESIGN.md plug-in)")


def _check_keys(sweep: SweepConfig) -> None:
    """Every swept or variant key names an experiment field: else one line saying where it is."""
    items = [(f"search_space.{key}", key) for key in sweep.search_space]
    items += [(f"variants.{name}.{key}", key)
              for name, overrides in sweep.variants.items() for key in overrides]
    for label, key in items:
        if key == VARIANT_BASE:
            continue
        *path, last = key.split(".")
        parent = _model_at(tuple(path))
        if parent is None or last not in parent.model_fields:
            allowed = list(parent.model_fields) if parent is not None else []
            hint = _nearest(last, allowed) if allowed else " (not inside an experiment section)"
            raise ConfigError(f"{label}: unknown key{hint}")


def _validate(label: str, build: Callable[[], ExperimentConfig]) -> ExperimentConfig:
    """Build one config; a failure is one line led by ``label`` (what was being built)."""
    try:
        return build()
    except ConfigError as err:
        raise ConfigError(f"{label}: {err}") from None


def _expand_params(sweep: SweepConfig) -> list[dict[str, Any]]:
    """Grid points crossed with ``num_samples`` random draws (Tune's samplers, seeded)."""
    space = sweep.search_space
    grid_keys = [k for k, s in space.items() if s.kind == "grid"]
    grid = [dict(zip(grid_keys, combo, strict=True))
            for combo in itertools.product(*(space[k].args for k in grid_keys))]
    drawn_keys = [k for k, s in space.items() if s.kind != "grid"]
    rng = np.random.RandomState(sweep.search.seed)
    draws = [{k: _draw(space[k], rng) for k in drawn_keys}
             for _ in range(sweep.search.num_samples if drawn_keys else 1)]
    return [{k: {**g, **d}[k] for k in space} for d in draws for g in grid]


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
        _set_routed(data, _routed(dict(profiles[profile] or {})))
    ov = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    _set_routed(data, _routed(ov))
    try:
        sweep = SweepConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, root=SweepConfig)) from None
    base = _base_experiment(sweep, sweep.extends, "extends", source, profile)
    variant_bases = {name: _base_experiment(sweep, o[VARIANT_BASE], f"variants.{name}.{VARIANT_BASE}", source,
                                            profile)
                     for name, o in sweep.variants.items() if VARIANT_BASE in o}
    plan = SweepPlan(sweep, base, [], str(source), 0, variant_bases)

    _check_plugins(sweep, base)
    _check_keys(sweep)
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
        params = _expand_params(sweep) if sweep.search_space else [{}]
        plan.trials = [TrialSpec(v, s, p) for v in plan.variant_names for p in params for s in sweep.seeds]
        trial_cfgs = [check(f"trial '{t.label()}'", t.variant, t.params) for t in plan.trials]
        plan.trial_phases = [num_phases(c) for c in trial_cfgs]
        cfgs += trial_cfgs
    if sweep.resources.gpu == 0 and any(c.device == "cuda" for c in cfgs):
        raise ConfigError("resources.gpu: 0, but the experiment asks for device 'cuda'; give each trial "
                          "a GPU share (e.g. resources.gpu: 0.5) or use device auto")
    if sweep.resources.gpu == 0 and any(c.train.precision == "fp16" for c in cfgs):
        raise ConfigError("resources.gpu: 0, but the experiment trains in train.precision fp16, which needs "
                          "a CUDA device; give each trial a GPU share or use bf16 / fp32")
    threads, res = max(c.threads for c in cfgs), sweep.resources
    if threads > res.learner_threads:
        raise ConfigError(f"experiment.threads: {threads} torch threads, but each LearnerActor holds "
                          f"{res.learner_cpu:g} CPUs (resources.cpu - memory_cpu - driver_cpu); give "
                          f"resources.cpu >= {threads + res.memory_cpu + res.driver_cpu:g} or fewer threads")
    plan.max_phases = max(num_phases(c) for c in cfgs)
    plan.datasets = list({c.dataset.model_dump_json(): c.dataset for c in cfgs}.values())
    if sweep.scheduler.kind == "asha":
        _check_asha(sweep.scheduler, cfgs, plan.max_phases)
    return plan


def _check_asha(scheduler: Scheduler, cfgs: list[ExperimentConfig], max_phases: int) -> None:
    """ASHA ranks trials by the objective at the same phase: the trials must learn the same
    classes at each phase (a 10-phase trial's phase 2 has seen fewer classes than a 5-phase
    one's, and would be kept for that alone), and reach its first rung."""
    schedules = sorted({tuple(phase_sizes(c.protocol, c.num_classes)) for c in cfgs}, key=len)
    if len(schedules) > 1:
        shown = " vs ".join(f"{len(x)} phases of {'/'.join(map(str, x))} classes" for x in schedules[:2])
        raise ConfigError(f"scheduler.kind: asha ranks trials at the same phase, but these trials learn "
                          f"their classes on different schedules ({shown}); use fifo, or one sweep per "
                          "protocol")
    if scheduler.grace_period > max_phases:
        raise ConfigError(f"scheduler.grace_period: {scheduler.grace_period} phases exceeds the "
                          f"trials' {max_phases} phases")


def num_phases(cfg: ExperimentConfig) -> int:
    return len(phase_sizes(cfg.protocol, cfg.num_classes))


def describe(plan: SweepPlan) -> str:
    """The ``--dry-run`` listing: one line per trial (or the Optuna search it will run)."""
    s = plan.sweep
    lines = [f"sweep '{s.name}' from {plan.source}: search {s.search.kind}, scheduler {s.scheduler.kind}, "
             f"objective {s.objective.mode} {s.objective.metric}, outputs in {plan.exp_dir}"]
    if s.search.kind == "optuna":
        space = ", ".join(f"{k} ~ {v.kind}{v.args}" for k, v in s.search_space.items())
        lines.append(f"{s.search.num_samples} Optuna TPE trials of variant {plan.variant_names[0]}, "
                     f"seed {s.seeds[0]} over: {space}")
        return "\n".join(lines)
    lines.append(f"{len(plan.trials)} trials = {len(plan.variant_names)} variants x "
                 f"{len(plan.trials) // max(1, len(plan.variant_names) * len(s.seeds))} settings x "
                 f"{len(s.seeds)} seeds")
    for i, spec in enumerate(plan.trials):
        lines.append(f"  {i:4d}  {spec.label()}")
    return "\n".join(lines)
