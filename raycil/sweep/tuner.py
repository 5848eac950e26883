"""The sweep on Ray Tune: the search (the planned trials for grid / random, Optuna's TPE over
the search space), the scheduler (FIFO, or ASHA with rungs in phases), the trainable with its
placement group, and the Tuner that runs, checkpoints and resumes them."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import optuna
from ray import tune
from ray.tune.result import TRAINING_ITERATION
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator
from ray.tune.search.optuna import OptunaSearch

from raycil.report.study import optuna_url, trial_attrs
from raycil.sweep import progress
from raycil.sweep.callback import PhaseProgress
from raycil.sweep.outputs import PLAN_FILE, plan_record
from raycil.sweep.plan import SweepPlan
from raycil.sweep.trial import placement, run_trial


class PhaseOptunaSearch(OptunaSearch):
    """OptunaSearch whose study records one intermediate value per phase (step = phase) and tags
    each Optuna trial, while it runs, with the sweep's user attributes (``report.trial_attrs``)."""

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        super().on_trial_result(trial_id, {**result, TRAINING_ITERATION: result["phase"]})
        ot_trial = self._ot_trials[trial_id]
        for key, value in trial_attrs(trial_id, result).items():
            ot_trial.set_user_attr(key, value)


def trial_dirname(trial: Any) -> str:
    """Trial names and directories: ``<variant>_s<seed>_<trial id>``."""
    return f"{trial.config['variant']}_s{trial.config['seed']}_{trial.trial_id}"


def _unique(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def search_setup(plan: SweepPlan) -> tuple[dict[str, Any], Any, int]:
    """(param_space, search algorithm, num_samples) for the sweep's search kind."""
    s = plan.sweep
    if s.search.kind == "optuna":
        storage = optuna.storages.RDBStorage(optuna_url(plan.exp_dir))
        ranked = s.ranked  # several objectives: Optuna's multi-objective TPE, one value per objective
        keys, modes = [o.key for o in ranked], [o.mode for o in ranked]
        searcher = PhaseOptunaSearch(metric=keys if len(keys) > 1 else keys[0],
                                     mode=modes if len(modes) > 1 else modes[0], seed=s.search.seed,
                                     storage=storage, study_name=s.name)
        space = {"variant": plan.variant_names[0], "seed": s.seeds[0],
                 **{k: spec.domain() for k, spec in s.search_space.items()}}
        return space, searcher, s.search.num_samples
    # grid / random: the trials were expanded (and validated) up front; Tune runs exactly those
    points = [t.tune_config() for t in plan.trials]
    space = {k: tune.choice(_unique([p[k] for p in points])) for k in points[0]}
    generator = BasicVariantGenerator(points_to_evaluate=points, max_concurrent=s.max_concurrent or 0)
    return space, generator, len(points)


def scheduler(plan: SweepPlan) -> TrialScheduler:
    sch = plan.sweep.scheduler
    if sch.kind == "asha":
        return ASHAScheduler(time_attr="phase", max_t=plan.max_phases, grace_period=sch.grace_period,
                             reduction_factor=sch.reduction_factor, brackets=sch.brackets)
    return FIFOScheduler()


def trainable(plan: SweepPlan) -> Any:
    return tune.with_resources(tune.with_parameters(run_trial, plan=plan), placement(plan.sweep.resources))


def planned_phases(plan: SweepPlan) -> int:
    """The sweep's phases in all (Optuna: its trials at the most phases a trial can have)."""
    return sum(plan.trial_phases) if plan.trials else plan.sweep.search.num_samples * plan.max_phases


def make_tuner(plan: SweepPlan, resume: bool = False) -> tune.Tuner:
    # a checkpoint per phase forces frequent experiment snapshots by design; Tune need not warn
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Tune's newer output engine prints its "Number of trials" box even at verbose=0; its
    # legacy engine (Ray's switch for it) prints nothing at verbose=0. PhaseProgress reports.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if resume:
        return tune.Tuner.restore(str(plan.exp_dir), trainable(plan), resume_unfinished=True,
                                  resume_errored=True)
    s = plan.sweep
    space, search_alg, num_samples = search_setup(plan)
    # several objectives with Optuna: the searcher holds them; Tune itself ranks on none; nor does
    # it in a sweep that chooses nothing (fixed variants x seeds), which may lack a validation split
    tune_ranks = s.chooses and (s.objectives is None or s.search.kind != "optuna")
    first = s.ranked[0]
    return tune.Tuner(
        trainable(plan),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=first.key if tune_ranks else None, mode=first.mode if tune_ranks else None,
            search_alg=search_alg, scheduler=scheduler(plan), num_samples=num_samples,
            max_concurrent_trials=s.max_concurrent if s.search.kind == "optuna" else None,
            trial_name_creator=trial_dirname, trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(
            name=s.name, storage_path=str(plan.exp_dir.parent),
            failure_config=tune.FailureConfig(max_failures=s.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            callbacks=[PhaseProgress(num_samples, planned_phases(plan), plan.max_phases)], verbose=0),
    )


def run_sweep(plan: SweepPlan, resume: bool = False,
              progress_every: float = progress.EVERY_S) -> tune.ResultGrid:
    """Run (or resume) the sweep on the connected Ray cluster and return Tune's results;
    ``progress_every``: seconds between a trial's lines within a phase (0: none)."""
    plan.exp_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        (plan.exp_dir / PLAN_FILE).write_text(json.dumps(plan_record(plan), indent=2))
    board = progress.start_board(progress_every)
    try:
        return make_tuner(plan, resume).fit()
    finally:
        progress.stop_board(board)
