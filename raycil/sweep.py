"""``python -m raycil.sweep FILE.yaml [--profile NAME] [--set k=v ...] [--resume] [--address ADDR]
[--dry-run] [--no-dashboard]``: run a sweep of CIL trials on Ray Tune.

The sweep file is validated and expanded before Ray starts (a mistake is one line and exit 2,
with nothing written). Each trial runs ``raycil.trial.run_trial`` on its own placement group;
Tune schedules (FIFO or ASHA over phases), checkpoints after every phase, retries failed trials
from their last phase and resumes interrupted sweeps (``--resume``). The outputs of
``raycil.report`` are built at the end and the summary table is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
import ray
from ray import tune
from ray.tune.result import TRAINING_ITERATION
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator
from ray.tune.search.optuna import OptunaSearch

from raycil import report, tune_state
from raycil.config import ConfigError
from raycil.data.registry import check_datasets
from raycil.sweep_config import SweepPlan, TrialSpec, describe, plan_sweep
from raycil.trial import placement, run_trial

PLAN_FILE = "sweep.json"


# ----------------------------------------------------------------------------- Tune pieces

class PhaseOptunaSearch(OptunaSearch):
    """OptunaSearch whose study records one intermediate value per phase (step = phase) and tags
    each Optuna trial, while it runs, with the sweep's user attributes (``report.trial_attrs``)."""

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        super().on_trial_result(trial_id, {**result, TRAINING_ITERATION: result["phase"]})
        ot_trial = self._ot_trials[trial_id]
        for key, value in report.trial_attrs(trial_id, result).items():
            ot_trial.set_user_attr(key, value)


class PhaseProgress(tune.Callback):
    """Live progress: one line per phase of every trial (phase k/N and its accuracy); ``total`` is
    the sweep's trial count (Tune's list holds only the trials created so far)."""

    def __init__(self, total: int):
        self.total = total

    def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any],
                        **info: Any) -> None:
        done = sum(t.status == "TERMINATED" for t in trials)
        print(f"[{trial.trial_id}] {trial_label(trial.config)}: "
              f"phase {result['phase']}/{result['phases_total']}  top1 {result['top1']:.2f}"
              f"  avg inc {result['avg_inc_acc']:.2f}"
              f"  ({done}/{max(self.total, len(trials))} trials done)", flush=True)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        last = trial.last_result or {}
        phase, total = last.get("phase", 0), last.get("phases_total", "?")
        how = "finished" if phase == total else f"stopped early by the scheduler after phase {phase}/{total}"
        print(f"[{trial.trial_id}] {how}", flush=True)

    def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        print(f"[{trial.trial_id}] failed (failure {trial.num_failures}); retrying from its last "
              "checkpointed phase", flush=True)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        print(f"[{trial.trial_id}] failed after {trial.num_failures} failure(s); giving up on it", flush=True)


def trial_label(config: dict[str, Any]) -> str:
    return TrialSpec.from_tune_config(config).label()


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
        storage = optuna.storages.RDBStorage(report.optuna_url(plan.exp_dir))
        searcher = PhaseOptunaSearch(metric=s.objective.metric, mode=s.objective.mode, seed=s.search.seed,
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


def make_tuner(plan: SweepPlan, resume: bool = False) -> tune.Tuner:
    # a checkpoint per phase forces frequent experiment snapshots by design; Tune need not warn
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if resume:
        return tune.Tuner.restore(str(plan.exp_dir), trainable(plan), resume_unfinished=True,
                                  resume_errored=True)
    s = plan.sweep
    space, search_alg, num_samples = search_setup(plan)
    return tune.Tuner(
        trainable(plan),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=s.objective.metric, mode=s.objective.mode, search_alg=search_alg,
            scheduler=scheduler(plan), num_samples=num_samples,
            max_concurrent_trials=s.max_concurrent if s.search.kind == "optuna" else None,
            trial_name_creator=trial_dirname, trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(
            name=s.name, storage_path=str(plan.exp_dir.parent),
            failure_config=tune.FailureConfig(max_failures=s.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            callbacks=[PhaseProgress(num_samples)], verbose=0),
    )


# ----------------------------------------------------------------------------- driver

def plan_record(plan: SweepPlan) -> dict[str, Any]:
    """What ``sweep.json`` keeps: the validated sweep, the base experiment and the trial list."""
    return {"source": plan.source, "sweep": plan.sweep.model_dump(mode="json"), "base": plan.base,
            "variant_bases": plan.variant_bases, "trials": [t.tune_config() for t in plan.trials],
            "max_phases": plan.max_phases}


def check_outputs(plan: SweepPlan, resume: bool) -> list[str]:
    """Refuse to mix a new sweep into old results, or to resume something else (before Ray starts).

    On ``--resume``, state files torn by the interruption are mended first; what was done, a line each.
    """
    exp, saved = plan.exp_dir, plan.exp_dir / PLAN_FILE
    if resume:
        if not tune.Tuner.can_restore(exp) or not saved.is_file():
            raise ConfigError(f"--resume: {exp} holds no sweep to resume")
        before = json.loads(saved.read_text())
        now = json.loads(json.dumps(plan_record(plan)))
        for key, what in (("sweep", "settings"), ("base", "base experiment"),
                          ("variant_bases", "variants' base experiments"), ("trials", "trial list")):
            if before.get(key, {}) != now[key]:
                raise ConfigError(f"--resume: the sweep's {what} differs from the run in {exp}; "
                                  "resume with the same file, --profile and --set")
        return tune_state.repair(exp)
    if tune.Tuner.can_restore(exp):  # (a sweep.json alone: killed before Tune started; redo it)
        raise ConfigError(f"name: {exp} already holds a sweep; pass --resume to continue it or choose "
                          "another name (--set name=...)")
    return []


def connect(address: str | None, dashboard: bool) -> Any:
    """Join a cluster (``auto`` or a head address) or start a local Ray sized to this machine."""
    if address:
        return ray.init(address=address)
    # "local": a new instance even if another cluster on this machine is discoverable
    return ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=dashboard,
                    dashboard_host="127.0.0.1")


def dashboard_help(context: Any, exp_dir: Path) -> list[str]:
    lines = []
    url = getattr(context, "dashboard_url", None)
    if url:
        lines.append(f"Ray dashboard: http://{url}")
        if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
            lines.append("  token authentication is on: print the token with `ray get-auth-token` (kept "
                         "in ~/.ray/auth_token) and paste it at the dashboard's sign-in prompt; HTTP clients "
                         "send `Authorization: Bearer <token>`")
    else:
        lines.append("Ray dashboard: off (--no-dashboard, or the cluster runs none)")
    hint = "" if importlib.util.find_spec("optuna_dashboard") else "   (pip install optuna-dashboard)"
    lines.append(f"Optuna dashboard: optuna-dashboard {report.optuna_url(exp_dir)}{hint}")
    return lines


def run_sweep(plan: SweepPlan, resume: bool = False) -> tune.ResultGrid:
    """Run (or resume) the sweep on the connected Ray cluster and return Tune's results."""
    plan.exp_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        (plan.exp_dir / PLAN_FILE).write_text(json.dumps(plan_record(plan), indent=2))
    return make_tuner(plan, resume).fit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raycil.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("file", help="sweep YAML")
    parser.add_argument("--profile", help="a named profile of the file's profiles: section")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted override of the sweep (seeds=[0,1]) or its experiment (train.epochs=3)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    parser.add_argument("--address", help="join a Ray cluster: 'auto' or the head's host:port")
    parser.add_argument("--dry-run", action="store_true", help="print the expanded trials and exit")
    parser.add_argument("--no-dashboard", action="store_true", help="start the local Ray without dashboard")
    args = parser.parse_args(argv)
    try:
        plan = plan_sweep(args.file, args.profile, args.overrides)
        if args.dry_run:
            print(describe(plan))
            return 0
        mended = check_outputs(plan, args.resume)
        check_datasets(plan.file_datasets)
    except (ConfigError, FileNotFoundError) as err:
        print(f"raycil.sweep: error: {err}", file=sys.stderr)
        return 2
    for line in mended:
        print(f"raycil.sweep: {line}")
    context = connect(args.address, not args.no_dashboard)
    print(describe(plan).splitlines()[0])
    for line in dashboard_help(context, plan.exp_dir):
        print(line)
    results = run_sweep(plan, args.resume)
    print(report.build(plan.exp_dir).text)
    failed = sum(r.error is not None for r in results)
    if failed:
        print(f"{failed} trial(s) failed after {plan.sweep.max_failures} retries; see their error.txt "
              f"under {plan.exp_dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
