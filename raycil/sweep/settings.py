"""Sweep YAML: a base experiment, named variants, a search space and seeds, expanded into
validated trial configs before Ray starts (:mod:`raycil.sweep.plan`).

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
the base experiment; the others address the sweep (``seeds``, ``search.num_samples``).

This module is the file's schema; :mod:`raycil.sweep.plan` reads, routes and expands it.
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from raycil.metrics import VAL_PREFIX
from raycil.schema import Seed, Strict

Metric = Literal["avg_inc_acc", "last_acc", "forgetting", "avg_imbalance",
                 "top1", "top5", "old_acc", "new_acc", "first_acc", "imbalance",
                 "peak_bytes_kept", "total_train_seconds"]
COST_METRICS = ("peak_bytes_kept", "total_train_seconds")  # no validation counterpart: one value per run

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
    """What searches, ASHA's rungs and tuning protocols rank trials by: ``metric`` on the
    validation split (``split: val``, the default) or on the test data (``split: test``: the
    setting chosen is then an oracle's, labelled so). Reports show the test metrics either way."""

    metric: Metric = "avg_inc_acc"
    mode: Literal["max", "min"] = "max"
    split: Literal["val", "test"] = "val"

    @property
    def key(self) -> str:
        """The reported key ranked on: ``val_avg_inc_acc`` for split val, ``avg_inc_acc`` for test
        (a cost, bytes kept or training seconds, has one value per run whatever the split)."""
        return f"{VAL_PREFIX}{self.metric}" if self.split == "val" and self.metric not in COST_METRICS \
            else self.metric

    def label(self) -> str:
        """``max avg_inc_acc on validation data`` (or ``... on test data (an oracle's choice)``)."""
        if self.metric in COST_METRICS:
            return f"{self.mode} {self.metric}"
        where = "validation data" if self.split == "val" else "test data (an oracle's choice)"
        return f"{self.mode} {self.metric} on {where}"


Protocol = Literal["oracle", "end_of_training", "first_phases", "disjoint_classes"]


class Tuning(Strict):
    """``tuning:``, the realistic tuning protocols run as one sweep (:mod:`raycil.sweep.protocols`).
    Stage 1 runs the search space's candidates as each protocol may see them; each protocol
    chooses its setting; stage 2 runs the chosen settings on the sweep's ``seeds`` (the
    evaluation seeds) and scores them on test data.

    - ``oracle``: candidates run in full on the evaluation seeds, chosen on their test metric
      (the reference a protocol's gap is measured from; never a result of its own);
    - ``end_of_training``: candidates run in full on ``seeds`` (default: the evaluation seeds),
      chosen on their validation metric;
    - ``first_phases``: candidates run only the first ``first_phases`` phases, chosen on
      validation, then the chosen setting runs the whole protocol;
    - ``disjoint_classes``: candidates run the protocol on a class set disjoint from the one
      evaluated (``disjoint_classes``: experiment overrides giving it; the built-in data's
      default draws the next ``num_classes`` classes, ``dataset.class_offset``), chosen on
      validation."""

    protocols: list[Protocol] = Field(default_factory=lambda: ["oracle", "end_of_training"], min_length=1)
    first_phases: int = Field(1, ge=1)
    disjoint_classes: dict[str, Any] = Field(default_factory=dict)
    seeds: list[Seed] | None = Field(None, min_length=1)

    @field_validator("protocols")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"protocols must be distinct (got {v})")
        return v

    @field_validator("disjoint_classes")
    @classmethod
    def _flat(cls, v: dict[str, Any]) -> dict[str, Any]:
        return flatten(v)


PaperMetric = Literal["avg_inc_acc", "last_acc", "forgetting", "avg_imbalance"]  # summarised per setting
PAPER_METRICS: tuple[str, ...] = get_args(PaperMetric)


class PaperBlock(Strict):
    """The paper's numbers for the table a sweep reproduces, set beside raycil's by the report
    (:mod:`raycil.report.paper`): ``source`` (paper and table), ``setting`` (what they were
    measured in: dataset, protocol, backbone, method), ``metric`` (what the values are; default the
    objective's metric), ``values``: per variant the paper's value, or per setting of the swept
    parameters (``"protocol.num_phases=5"``; several joined by ``,``) its value, and ``note``."""

    source: str
    setting: str
    metric: PaperMetric | None = None
    values: dict[str, float | dict[str, float]] = Field(min_length=1)
    note: str = ""


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
    objectives: list[Objective] | None = Field(None, min_length=2)
    search: Search = Field(default_factory=Search)
    scheduler: Scheduler = Field(default_factory=Scheduler)
    resources: Resources = Field(default_factory=Resources)
    max_concurrent: int | None = Field(None, ge=1)
    max_failures: int = Field(3, ge=0)
    storage_path: str = "runs/sweeps"
    tuning: Tuning | None = None
    paper: PaperBlock | None = None

    @property
    def ranked(self) -> list[Objective]:
        """What the sweep ranks on: ``objectives`` (a Pareto front), else the one ``objective``."""
        return list(self.objectives) if self.objectives else [self.objective]

    @property
    def chooses(self) -> bool:
        """The sweep ranks trials to choose among settings (a search space, ASHA's rungs, tuning)."""
        return bool(self.search_space) or self.scheduler.kind == "asha" or self.tuning is not None

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
            if self.tuning is None and (len(self.variants) > 1 or len(self.seeds) > 1):
                raise ValueError("search.kind optuna: TPE proposes one setting per trial, so use one "
                                 "seed and at most one variant (repeat settings with kind random)")
        if self.objectives is not None:
            if self.tuning is not None:
                raise ValueError("objectives: a tuning sweep chooses one setting on one objective; give "
                                 "objective: instead")
            if self.scheduler.kind == "asha":
                raise ValueError("objectives: ASHA stops trials on one metric; use scheduler fifo with "
                                 "several objectives")
        if self.paper is not None:
            self._check_paper(self.paper)
        if self.tuning is not None:
            if not self.search_space:
                raise ValueError("tuning: the protocols choose among settings; give a search_space")
            if len(self.variants) > 1:
                raise ValueError("tuning: the protocols choose one setting of one method; give at most one "
                                 "variant (one tuning sweep per method)")
        return self


    def _check_paper(self, paper: PaperBlock) -> None:
        """Every row of ``paper.values`` names a variant, every setting label the swept parameters."""
        names = list(self.variants) or ["base"]
        for name, value in paper.values.items():
            if name not in names:
                raise ValueError(f"paper.values.{name}: not a variant of this sweep "
                                 f"(variants: {', '.join(names)})")
            for label in value if isinstance(value, dict) else ():
                keys = sorted(parse_setting(label))
                if keys != sorted(self.search_space):
                    raise ValueError(f"paper.values.{name}: setting {label!r} must give each swept "
                                     f"parameter ({', '.join(self.search_space) or 'none'}) as key=value, "
                                     "joined by ','")
        if paper.metric is None and self.objective.metric not in PAPER_METRICS:
            raise ValueError(f"paper.metric: the objective's {self.objective.metric} is not a summary "
                             f"metric; give one of {', '.join(PAPER_METRICS)}")


def parse_setting(label: str) -> dict[str, Any]:
    """``"protocol.num_phases=5,train.lr=0.1"`` to ``{"protocol.num_phases": 5, "train.lr": 0.1}``
    (values read as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for part in label.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"paper setting {label!r}: expected key=value pairs joined by ','")
        out[key.strip()] = yaml.safe_load(value.strip())
    return out


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


