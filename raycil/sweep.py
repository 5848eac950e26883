"""``python -m raycil.sweep FILE.yaml [--profile NAME] [--set k=v ...] [--resume] [--address ADDR]
[--dry-run] [--no-dashboard] [--progress-every SECONDS]``: run a sweep of CIL trials on Ray Tune.

The sweep file is validated and expanded before Ray starts (a mistake is one line and exit 2,
with nothing written). Each trial runs ``raycil.trial.run_trial`` on its own placement group;
Tune schedules (FIFO or ASHA over phases), checkpoints after every phase, retries failed trials
from their last phase and resumes interrupted sweeps (``--resume``). The outputs of
``raycil.report`` are built at the end and the summary table is printed. While it runs, each
trial's phases and its epochs inside them are printed, with the sweep's time left
(``raycil.progress``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import shlex
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import ray
import torch
from ray import tune
from ray.tune.result import TRAINING_ITERATION
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator
from ray.tune.search.optuna import OptunaSearch

from raycil import progress, report, tune_state
from raycil.config import ConfigError
from raycil.data.registry import check_datasets
from raycil.outputs import check_writable_dir
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


ENDED = ("TERMINATED", "ERROR")


@dataclass
class _Live:
    """What one driver gathers while the sweep runs (not pickled with the callback)."""

    first: list[float] = field(default_factory=list)  # wall seconds of finished first phases
    later: list[float] = field(default_factory=list)  # ... of finished later phases
    finished: dict[str, int] = field(default_factory=dict)  # trial id -> its last finished phase
    watcher: progress.BoardWatcher | None = None
    looked: bool = False  # for the board
    peak: int = 1  # the most trials seen running at once


class PhaseProgress(tune.Callback):
    """Live progress (``raycil.progress``): one line per finished phase of every trial (its
    accuracy, wall time, trials done and the sweep's time left) and, from the sweep's progress
    board, at most one line per interval per trial inside a phase. ``total``: the planned trials
    (Tune's list holds only those created so far), ``planned_phases`` their phases in all,
    ``max_phases`` the most one trial has. Tune pickles this callback for ``--resume``: the board
    and the phase timings are looked up and gathered anew by each driver."""

    planned_phases = 0  # class defaults: a callback pickled by an earlier version lacks them
    max_phases = 0

    def __init__(self, total: int, planned_phases: int = 0, max_phases: int = 0):
        self.total, self.planned_phases, self.max_phases = total, planned_phases, max_phases

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_live"}

    def live(self) -> _Live:
        if "_live" not in self.__dict__:
            self._live = _Live()
        return self._live

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        live = self.live()
        live.peak = max(live.peak, sum(t.status == "RUNNING" for t in trials))
        if live.watcher is None:
            if live.looked:
                return
            live.looked = True
            board = progress.find_board()
            if board is None:
                return
            live.watcher = progress.BoardWatcher(board)
        try:
            records = live.watcher.poll()
        except ray.exceptions.RayError:  # the board is gone: no more lines within phases
            live.watcher = None
            return
        status = {t.trial_id: t.status for t in trials}
        for key, record in sorted(records.items()):
            # a record older than the trial's last finished phase, or of an ended trial, is stale
            if record.phase > live.finished.get(key, 0) and status.get(key) not in ENDED:
                print(record.line(key), flush=True)

    def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any],
                        **info: Any) -> None:
        live = self.live()
        seconds = result.get("time_this_iter_s")
        if isinstance(seconds, int | float):
            (live.first if result["phase"] == 1 else live.later).append(float(seconds))
        took = f"in {progress.duration(seconds)}; " if isinstance(seconds, int | float) else ""
        live.finished[trial.trial_id] = result["phase"]
        done = sum(t.status == "TERMINATED" for t in trials)
        left = self.seconds_left(trials, trial, result)
        eta = "sweep time left: estimating…" if left is None else f"sweep {progress.rough(left)} left"
        print(f"[{trial.trial_id}] {trial_label(trial.config)}: "
              f"phase {result['phase']}/{result['phases_total']}  top1 {result['top1']:.2f}"
              f"  avg inc {result['avg_inc_acc']:.2f}"
              f"  ({took}{done}/{max(self.total, len(trials))} trials done; {eta})", flush=True)

    def seconds_left(self, trials: list[Any], trial: Any, result: dict[str, Any]) -> float | None:
        """``progress.seconds_left`` over Tune's trials (``result``: ``trial``'s newest, which Tune
        records only after the callbacks); a trial with no reported phase is unstarted."""
        left: list[int] = []
        reported = reported_phases = 0
        most = self.max_phases
        for t in trials:
            r = result if t is trial else (t.last_result if t.has_reported_at_least_once else {})
            if "phase" not in r:
                continue
            reported, reported_phases = reported + 1, reported_phases + r["phases_total"]
            most = max(most, r["phases_total"])
            if t.status not in ENDED:
                left.append(r["phases_total"] - r["phase"])
        total = max(self.total, len(trials))
        unstarted = max(0, total - reported)
        planned = self.planned_phases or total * most
        unstarted_phases = min(max(0, planned - reported_phases), unstarted * most)
        live = self.live()
        live.peak = max(live.peak, sum(t.status == "RUNNING" for t in trials))
        return progress.seconds_left(live.first, live.later, left, unstarted, unstarted_phases, live.peak)

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
            callbacks=[PhaseProgress(num_samples, planned_phases(plan), plan.max_phases)], verbose=0),
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
    check_writable_dir(exp, "storage_path")
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


def reachable(address: str, timeout_s: float = 5.0) -> bool:
    """Whether something listens at ``host:port`` (``ray://host:port`` too) within ``timeout_s``."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address: '{address}' is not 'auto' or host:port (e.g. 10.0.0.1:6379)")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def connect(address: str | None, dashboard: bool) -> Any:
    """Join a cluster (``auto`` or a head address) or start a local Ray sized to this machine.

    A head address where nothing listens is refused after a few seconds (Ray itself would retry
    for minutes); so is ``auto`` with no cluster running here."""
    if address:
        if address != "auto" and not reachable(address):
            raise ConfigError(f"--address: nothing answers at {address} (start the head with `ray start "
                              "--head` and pass the address it prints, or leave --address out)")
        try:
            return ray.init(address=address)
        except ConnectionError as err:
            raise ConfigError(f"--address: {address}: {str(err).splitlines()[0]}") from None
    # "local": a new instance even if another cluster on this machine is discoverable
    return ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=dashboard,
                    dashboard_host="127.0.0.1")


def local_capacity() -> dict[str, float]:
    """What the local Ray started by :func:`connect` will have."""
    return {"CPU": float(os.cpu_count() or 1), "GPU": float(torch.cuda.device_count())}


def check_capacity(plan: SweepPlan, have: dict[str, float], where: str) -> None:
    """Refuse a sweep whose trials cannot be placed (Tune would wait for them forever)."""
    res = plan.sweep.resources
    for kind, need in (("CPU", res.cpu), ("GPU", res.gpu)):
        if need > have.get(kind, 0.0):
            raise ConfigError(f"resources.{kind.lower()}: each trial needs {need:g} {kind}, but {where} has "
                              f"{have.get(kind, 0.0):g}; lower it or join a larger cluster (--address)")


def auth_token_source() -> str:
    """Where Ray's CLI and ``ray get-auth-token`` read the token from (Ray 2.60's order)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "$RAY_AUTH_TOKEN"
    return os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token"


def dashboard_help(context: Any, exp_dir: Path) -> list[str]:
    """How to reach the sweep's Ray (dashboard, CLI) and its Optuna study.

    Ray >= 2.59 turns token authentication on for a new local cluster (unless ``RAY_AUTH_MODE``
    is set) by setting ``RAY_AUTH_MODE=token`` in the driver's environment only: the dashboard
    then asks for the token, and Ray's CLI in another shell (``ray status``, ``ray list actors``)
    fails with an AuthenticationError unless that shell exports ``RAY_AUTH_MODE=token`` too. With
    more than one Ray on the machine the CLI also needs the address (``RAY_ADDRESS``)."""
    lines = []
    url = getattr(context, "dashboard_url", None)
    token = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
    lines.append(f"Ray dashboard: http://{url}" if url else
                 "Ray dashboard: off (--no-dashboard, or the cluster runs none)")
    if token:
        lines.append(f"  token authentication is on: `ray get-auth-token` prints the token (from "
                     f"{auth_token_source()}); paste it at the dashboard's sign-in prompt")
    address = (getattr(context, "address_info", None) or {}).get("gcs_address")
    if address:
        export = f"export {'RAY_AUTH_MODE=token ' if token else ''}RAY_ADDRESS={address}"
        lines.append(f"  Ray's CLI from another shell: {export}; then ray status, ray list actors, ...")
        if token:
            lines.append("  (without RAY_AUTH_MODE=token there, Ray's CLI fails with an AuthenticationError)")
    hint = "" if importlib.util.find_spec("optuna_dashboard") else "   (pip install optuna-dashboard)"
    lines.append(f"Optuna dashboard: optuna-dashboard {report.optuna_url(exp_dir)}{hint}")
    return lines


class Interrupts:
    """SIGINT (Ctrl-C) and SIGTERM while a sweep runs: the first stops it the way Tune stops on
    Ctrl-C (running trials end, every finished phase stays checkpointed, Tune's state is written
    whole), a second exits at once. ``received`` is the first signal's number (None: none came).

    Tune's own SIGINT handler is replaced (it catches SIGINT only, and prints ``Tuner.restore``
    where the user needs ``--resume``); the stop is asked of Tune through its SIGUSR1 handler."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> Interrupts:
        self.received: int | None = None
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        self.previous = {sig: signal.signal(sig, self.handle) for sig in self.SIGNALS}
        return self

    def handle(self, signum: int, frame: Any) -> None:
        if self.received is not None or not callable(signal.getsignal(signal.SIGUSR1)):
            raise SystemExit(128 + signum)  # a second signal, or Tune not running yet
        self.received = signum
        logging.getLogger("ray.tune.tune").setLevel(logging.CRITICAL)  # its restore hint is not ours
        print(f"raycil.sweep: {signal.Signals(signum).name} received; stopping the running trials (their "
              "finished phases are kept) and saving the sweep's state; send it again to stop at once",
              flush=True)
        signal.raise_signal(signal.SIGUSR1)

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def resume_command(argv: Sequence[str]) -> str:
    """The command that resumes this sweep: the same arguments, with ``--resume``."""
    return shlex.join(["python", "-m", "raycil.sweep", *(a for a in argv if a != "--resume"), "--resume"])


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
    parser.add_argument("--progress-every", type=interval_s, default=progress.EVERY_S, metavar="SECONDS",
                        help="at most one line per trial this often inside a phase (epoch k/E; "
                             f"default {progress.EVERY_S:g}; 0: none)")
    args = parser.parse_args(argv)
    try:
        plan = plan_sweep(args.file, args.profile, args.overrides)
        if args.dry_run:
            print(describe(plan))
            return 0
        if not args.address:
            check_capacity(plan, local_capacity(), "this machine")
        mended = check_outputs(plan, args.resume)
        check_datasets(plan.datasets)
    except (ConfigError, FileNotFoundError) as err:
        return refuse(err)
    for line in mended:
        print(f"raycil.sweep: {line}")
    try:
        context = connect(args.address, not args.no_dashboard)
        check_capacity(plan, ray.cluster_resources(), "the Ray cluster")
    except ConfigError as err:
        ray.shutdown()
        return refuse(err)
    print(describe(plan).splitlines()[0])
    for line in dashboard_help(context, plan.exp_dir):
        print(line)
    with Interrupts() as interrupts:
        results = run_sweep(plan, args.resume, args.progress_every)
    try:
        built = report.build(plan.exp_dir)
    except FileNotFoundError as err:  # interrupted before any trial reported a phase
        print(f"raycil.sweep: {err}")
        n = {"planned": len(plan.trials) or plan.sweep.search.num_samples, "complete": 0, "stopped early": 0}
    else:
        print(built.text)
        n = report.counts(built.experiment)
    if interrupts.received is not None:
        finished = n["complete"] + n["stopped early"]
        print(f"raycil.sweep: interrupted by {signal.Signals(interrupts.received).name}: {finished} of "
              f"{n['planned']} planned trials finished; resume with: "
              f"{resume_command(sys.argv[1:] if argv is None else argv)}", flush=True)
        return 128 + interrupts.received
    failed = sum(r.error is not None for r in results)
    if failed:
        print(f"{failed} trial(s) failed after {plan.sweep.max_failures} retries; see their error.txt "
              f"under {plan.exp_dir}")
    return 1 if failed else 0


def interval_s(text: str) -> float:
    """``--progress-every``: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0 (0: off), got '{text}'")
    return value


def refuse(err: Exception) -> int:
    print(f"raycil.sweep: error: {err}", file=sys.stderr)
    return 2

if __name__ == "__main__":
    sys.exit(main())
