"""The sweep's live console: a Tune callback that prints one line per finished phase of every
trial (its accuracy, wall time, trials done and the sweep's time left) and, from the progress
board (:mod:`raycil.sweep.progress`), a trial's stage and epoch inside a phase."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ray
from ray import tune

from raycil.sweep import progress
from raycil.sweep.plan import TrialSpec

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
    """Live progress (``raycil.sweep.progress``): one line per finished phase of every trial (its
    accuracy, wall time, trials done and the sweep's time left) and, from the sweep's progress
    board, at most one line per interval per trial inside a phase. ``total``: the planned trials
    (Tune's list holds only those created so far), ``planned_phases`` their phases in all,
    ``max_phases`` the most one trial has. Tune pickles this callback for ``--resume``: the board
    and the phase timings are looked up and gathered anew by each driver."""

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
