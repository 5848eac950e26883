"""Tuning protocols (the sweep section ``tuning:``, :class:`~raycil.sweep.settings.Tuning`) as one
two-stage sweep.

Stage 1 runs the search space's candidates as each protocol may see them, one sub-sweep per
distinct view, in folders beside each other under the sweep's folder:

- ``stage1-full``: the whole protocol on the evaluated classes (``oracle`` ranks its trials on
  test data, ``end_of_training`` on validation data; one sub-sweep serves both when the search
  and the scheduler do not depend on the ranking, i.e. grid / random under FIFO, and their
  seeds agree; else ``stage1-oracle`` and ``stage1-end_of_training``);
- ``stage1-first_phases``: the first k phases only (``protocol.stop_after: k``);
- ``stage1-disjoint_classes``: the protocol over a disjoint class set.

Each protocol chooses the setting with the best mean of its ranking key over its sub-sweep's
complete trials (``chosen.json``). Stage 2 (``stage2``) runs each chosen setting in full on the
evaluation seeds (the sweep's ``seeds``), one variant per distinct setting, skipping the runs a
full stage-1 sub-sweep already made (same setting, same seed: the same run). Every sub-sweep is
an ordinary sweep folder (``raycil.report`` reads each); ``--resume`` continues the first
unfinished one and goes on from there. :mod:`raycil.report.protocols` writes ``protocols.csv``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raycil.data.config import FILE_DATASETS
from raycil.metrics import VAL_PREFIX
from raycil.schema import ConfigError
from raycil.sweep.plan import SweepPlan, TrialSpec, plan_sweep
from raycil.sweep.settings import SweepConfig, plain

TUNING_FILE = "tuning.json"
CHOSEN_FILE = "chosen.json"
STAGE2 = "stage2"


@dataclass
class Stage:
    """One stage-1 sub-sweep: its folder name, the protocols that choose from it, its plan, and
    whether its trials are whole runs on the evaluated classes (reusable as stage-2 runs)."""

    name: str
    protocols: list[str]
    plan: SweepPlan
    full_runs: bool
    overrides: dict[str, Any] = field(default_factory=dict)  # of the experiment, what the stage changes


@dataclass
class TuningPlan:
    """A tuning sweep: the sweep's own plan (``main``: its trials are the candidates x evaluation
    seeds), its stage-1 sub-sweeps, and what it takes to plan stage 2 once they finish."""

    main: SweepPlan
    stages: list[Stage]
    source: str
    profile: str | None
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def exp_dir(self) -> Path:
        return self.main.exp_dir

    @property
    def protocols(self) -> list[str]:
        assert self.main.sweep.tuning is not None
        return list(self.main.sweep.tuning.protocols)

    def stage(self, protocol: str) -> Stage:
        return next(s for s in self.stages if protocol in s.protocols)


def ranking_key(sweep: SweepConfig, protocol: str) -> str:
    """The reported key a protocol chooses on: the objective on test data for the oracle, on
    validation data for every other protocol."""
    metric = sweep.objective.metric
    return metric if protocol == "oracle" else VAL_PREFIX + metric


def _stage_overrides(main: SweepPlan, name: str, seeds: list[int], split: str,
                     experiment: dict[str, Any]) -> dict[str, Any]:
    """The sweep-level and experiment overrides that make a stage-1 sub-sweep of ``main``."""
    return {"tuning": None, "name": name, "storage_path": str(main.exp_dir), "seeds": seeds,
            "objective.split": split, **experiment}


def _disjoint_overrides(main: SweepPlan) -> dict[str, Any]:
    tuning = main.sweep.tuning
    assert tuning is not None
    if tuning.disjoint_classes:
        return dict(tuning.disjoint_classes)
    # the base at the search space's first values (an Optuna sweep has no trial list yet)
    probe = {k: spec.probe_values()[0] for k, spec in main.sweep.search_space.items()}
    dataset = main.experiment_config(TrialSpec(main.variant_names[0], main.sweep.seeds[0], probe)).dataset
    if dataset.name in FILE_DATASETS:
        raise ConfigError("tuning.disjoint_classes: give the overrides of a class set disjoint from the one "
                          "evaluated (e.g. {dataset.root: another tree}); only the built-in data draws one "
                          "by itself")
    return {"dataset.class_offset": dataset.class_offset + dataset.num_classes}


def stage_specs(main: SweepPlan) -> list[tuple[str, list[str], dict[str, Any], list[int], str, bool]]:
    """(folder, protocols, experiment overrides, seeds, split, full runs) of each stage-1 sub-sweep."""
    s = main.sweep
    tuning = s.tuning
    assert tuning is not None
    evaluation = list(s.seeds)
    tuning_seeds = list(tuning.seeds or s.seeds)
    protocols = tuning.protocols
    specs = []
    full = [p for p in ("oracle", "end_of_training") if p in protocols]
    adaptive = s.search.kind == "optuna" or s.scheduler.kind == "asha"
    if len(full) == 2 and not adaptive and tuning_seeds == evaluation:
        specs.append(("stage1-full", full, {}, evaluation, "val", True))
    else:
        specs += [(f"stage1-{p}", [p], {}, evaluation if p == "oracle" else tuning_seeds,
                   "test" if p == "oracle" else "val", True) for p in full]
    if "first_phases" in protocols:
        specs.append(("stage1-first_phases", ["first_phases"], {"protocol.stop_after": tuning.first_phases},
                      tuning_seeds, "val", False))
    if "disjoint_classes" in protocols:
        specs.append(("stage1-disjoint_classes", ["disjoint_classes"], _disjoint_overrides(main),
                      tuning_seeds, "val", False))
    return specs


def plan_tuning(main: SweepPlan, profile: str | None, overrides: dict[str, Any]) -> TuningPlan:
    """The stage-1 sub-sweeps of a tuning sweep, each planned (and every trial validated) as a
    sweep of its own; a mistake is one line naming the sub-sweep."""
    stages = []
    for name, protocols, experiment, seeds, split, full in stage_specs(main):
        stage_ov = {**overrides, **_stage_overrides(main, name, seeds, split, experiment)}
        try:
            plan = plan_sweep(main.source, profile, stage_ov)
        except ConfigError as err:
            raise ConfigError(f"tuning ({name}): {err}") from None
        stages.append(Stage(name, protocols, plan, full, experiment))
    return TuningPlan(main, stages, main.source, profile, dict(overrides))


# ---------------------------------------------------------------------------------- choosing
def best_setting(final: Any, params: list[str], key: str, mode: str) -> tuple[dict[str, Any], float]:
    """The setting (values of ``params``) whose complete trials have the best mean ``key``, and
    that mean; ties go to the setting listed first. ``final``: one row per trial (the report's
    ``Experiment.done``)."""
    if final.empty or key not in final:
        raise ConfigError(f"tuning: no complete trial reports {key} to choose on")
    means = final.groupby(params, sort=False, dropna=False)[key].mean().dropna()
    if means.empty:
        raise ConfigError(f"tuning: every complete trial's {key} is NaN; nothing to choose on")
    best = means.idxmax() if mode == "max" else means.idxmin()
    values = best if isinstance(best, tuple) else (best,)
    return {k: plain(v) for k, v in zip(params, values, strict=True)}, float(means[best])


def choose(tp: TuningPlan) -> dict[str, dict[str, Any]]:
    """Per protocol: the chosen setting, the sub-sweep and key it was chosen on, and its score
    there (read from the finished stage-1 folders)."""
    from raycil.report.loading import load_experiment

    sweep = tp.main.sweep
    params = list(sweep.search_space)
    chosen = {}
    for protocol in tp.protocols:
        stage = tp.stage(protocol)
        key = ranking_key(sweep, protocol)
        exp = load_experiment(stage.plan.exp_dir)
        setting, score = best_setting(exp.done, params, key, sweep.objective.mode)
        chosen[protocol] = {"setting": setting, "stage": stage.name, "ranked_on": key, "score": score,
                            "candidates_complete": int(len(exp.done))}
    return chosen


def stage2_variants(chosen: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Per protocol, the stage-2 variant that runs its setting: the first protocol that chose it."""
    out: dict[str, str] = {}
    for protocol, entry in chosen.items():
        same = next((p for p in out if p == out[p] and chosen[p]["setting"] == entry["setting"]), None)
        out[protocol] = same or protocol
    return out


def full_runs(tp: TuningPlan) -> dict[tuple[str, int], tuple[str, str]]:
    """The complete whole runs of the full stage-1 sub-sweeps: (setting as JSON, seed) -> (folder,
    trial id)."""
    from raycil.report.loading import load_experiment

    params = list(tp.main.sweep.search_space)
    out: dict[tuple[str, int], tuple[str, str]] = {}
    for stage in tp.stages:
        if not stage.full_runs or not stage.plan.exp_dir.is_dir():
            continue
        try:
            done = load_experiment(stage.plan.exp_dir).done
        except FileNotFoundError:
            continue
        for trial_id, row in done.iterrows():
            setting = {k: plain(row[k]) for k in params}
            out.setdefault((setting_key(setting), int(row["seed"])), (stage.name, str(trial_id)))
    return out


def setting_key(setting: dict[str, Any]) -> str:
    return json.dumps(setting, sort_keys=True)


def plan_stage2(tp: TuningPlan, chosen: dict[str, dict[str, Any]]) -> SweepPlan:
    """Stage 2: one variant per distinct chosen setting (its swept keys set), the evaluation seeds,
    no search; its trial list leaves out the runs a full stage-1 sub-sweep already made."""
    variants = stage2_variants(chosen)
    own = next(iter(tp.main.sweep.variants.values()), {})  # the sweep's one variant, if it names one
    overrides = {**tp.overrides, "tuning": None, "name": STAGE2, "storage_path": str(tp.exp_dir),
                 "search_space": {}, "search.kind": "grid", "search.num_samples": 1, "scheduler.kind": "fifo",
                 "variants": {v: {**own, **chosen[v]["setting"]} for v in dict.fromkeys(variants.values())}}
    try:
        plan = plan_sweep(tp.source, tp.profile, overrides)
    except ConfigError as err:
        raise ConfigError(f"tuning ({STAGE2}): {err}") from None
    made = full_runs(tp)
    keep = [i for i, t in enumerate(plan.trials)
            if (setting_key(chosen[t.variant]["setting"]), t.seed) not in made]
    plan.trials = [plan.trials[i] for i in keep]
    plan.trial_phases = [plan.trial_phases[i] for i in keep]
    return plan


def tuning_record(tp: TuningPlan) -> dict[str, Any]:
    """What ``tuning.json`` keeps: the sweep's settings and its sub-sweeps (a resume must match)."""
    return {"source": tp.source, "sweep": tp.main.sweep.model_dump(mode="json"), "base": tp.main.base,
            "stages": [{"name": s.name, "protocols": s.protocols, "full_runs": s.full_runs,
                        "trials": [t.tune_config() for t in s.plan.trials]} for s in tp.stages]}


def check_tuning_outputs(tp: TuningPlan, resume: bool) -> None:
    """A new tuning sweep never mixes into an old folder; ``--resume`` continues the same one."""
    saved = tp.exp_dir / TUNING_FILE
    if resume:
        if not saved.is_file():
            raise ConfigError(f"--resume: {tp.exp_dir} holds no tuning sweep to resume")
        if json.loads(saved.read_text()) != json.loads(json.dumps(tuning_record(tp))):
            raise ConfigError(f"--resume: the tuning sweep's settings differ from the run in {tp.exp_dir}; "
                              "resume with the same file, --profile and --set")
    elif saved.is_file():
        raise ConfigError(f"name: {tp.exp_dir} already holds a tuning sweep; pass --resume to continue it or "
                          "choose another name (--set name=...)")


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=True))
    tmp.replace(path)
