"""A sweep's live progress: the throttle (at most one line per interval per trial, on a fake
clock, through the learner's reporter, the board and the driver's watcher), the time-left
estimate on hand-made phase timings, and one real sweep whose console shows a line inside a
phase and an estimate, with the metrics of the in-process run."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
import ray
from sweep_helpers import reference_phases, same_metrics, write_sweep

from raycil.sweep import progress
from raycil.sweep.callback import PhaseProgress
from raycil.sweep.plan import TrialSpec, plan_sweep
from raycil.sweep.progress import BoardWatcher, LearnerProgress, ProgressBoard, Throttle, seconds_left
from raycil.sweep.tuner import run_sweep


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Direct:
    """An object whose methods answer ``.remote(...)`` in-process, as an actor handle's would."""

    def __init__(self, target: Any):
        self.target = target

    def __getattr__(self, name: str) -> Any:
        return SimpleNamespace(remote=getattr(self.target, name))


def test_throttle_lets_one_call_through_per_interval():
    clock = FakeClock()
    throttle = Throttle(10.0, clock)
    passed = []
    for tick in range(141):
        clock.now = tick * 0.25
        if throttle():
            passed.append(clock.now)
    assert passed == [0.0, 10.0, 20.0, 30.0]


def test_at_most_one_line_per_interval_per_trial(monkeypatch):
    """Two trials step every 0.25 s and change stage every 3 s (a stage change is pushed at once);
    the driver polls on every Tune step: each trial still prints at most once per interval."""
    every, clock = 5.0, FakeClock()
    board = ProgressBoard(every)
    reporters = {key: LearnerProgress(Direct(board), key, f"{key} seed=0", every, clock)
                 for key in ("a", "b")}
    for reporter in reporters.values():
        reporter.start_phase(2, 3)
    monkeypatch.setattr(progress.ray, "wait", lambda refs, timeout: (refs, []))
    monkeypatch.setattr(progress.ray, "get", lambda ref: ref)
    watcher = BoardWatcher(Direct(board), clock)
    printed: dict[str, list[tuple[float, progress.Record]]] = {"a": [], "b": []}
    steps_per_epoch, epochs = 10, 30
    for tick in range(240):  # 60 s in steps of 0.25 s (exact in binary)
        clock.now = tick * 0.25
        desc = "phase 2/3" if int(clock.now // 3) % 2 == 0 else "balanced fine-tuning"
        for reporter in reporters.values():
            reporter(desc, tick % (steps_per_epoch * epochs) + 1, steps_per_epoch * epochs, None, epochs)
        for key, record in watcher.poll().items():
            printed[key].append((clock.now, record))
    for lines in printed.values():
        times = [t for t, _ in lines]
        assert len(times) >= 6 and all(b - a >= every for a, b in zip(times, times[1:], strict=False))
        # each line says where its trial was when it pushed: phase, stage, epoch k/E, time in the phase
        for t, record in lines:
            assert record.phase == 2 and record.phases == 3 and record.seconds <= t
            assert record.stage in ("training", "balanced fine-tuning") and record.epochs == epochs
    first = printed["a"][0][1]
    assert first.line("a") == "[a] a seed=0: phase 2/3 training, epoch 1/30 (0 s into the phase)"
    # the learner pushes once per interval, plus once per stage change: not once per step
    assert board.seq <= 2 * (60 / every + 60 / 3 + 2)


def test_time_left_on_hand_made_phase_timings():
    assert seconds_left([], [], [3], 2, 6, 2) is None
    # m1 = median(30, 50, 40) = 40, later phases 22; 3 later phases of started trials + 2 trials of
    # 3 phases not started = 3 x 22 + 2 x 40 + 4 x 22 = 234 s of work for 2 at once
    assert seconds_left([30, 50, 40], [20, 24], [2, 1], 2, 6, 2) == pytest.approx(117)
    # the tail: one trial with 3 phases left cannot go faster for a second one running
    assert seconds_left([30, 50, 40], [20, 24], [3], 0, 0, 2) == pytest.approx(66)
    # no later phase finished yet: every phase is priced at the median of all
    assert seconds_left([600], [], [2], 3, 9, 2) == pytest.approx(3300)


def trial(trial_id: str, status: str, last: dict[str, Any] | None = None) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, status=status, config={"variant": "v", "seed": 0},
                           has_reported_at_least_once=bool(last), last_result=last or {})


def result(phase: int, seconds: float | None) -> dict[str, Any]:
    out = {"phase": phase, "phases_total": 3, "top1": 50.0, "avg_inc_acc": 60.0}
    return out if seconds is None else {**out, "time_this_iter_s": seconds}


def test_time_left_lines_of_a_sweep_and_its_resume(capsys):
    """4 planned trials x 3 phases, 2 at once; then the sweep resumed by a new driver."""
    cb = PhaseProgress(4, 12, 3)
    a, b = trial("t0", "RUNNING"), trial("t1", "RUNNING")
    cb.on_step_end(0, [a, b])
    cb.on_trial_result(1, [a, b], a, result(1, None))  # Tune gave no time: nothing to go on yet
    assert capsys.readouterr().out.endswith("(0/4 trials done; sweep time left: estimating…)\n")
    cb.on_trial_result(2, [a, b], a, result(1, 600))
    a.last_result, a.has_reported_at_least_once = result(1, 600), True
    # m1 = mL = 600: A's 2 phases left, 3 trials of 3 not started: 11 phases for 2 at once
    assert "(in 10 min 00 s; 0/4 trials done; sweep ~55 min left)" in capsys.readouterr().out
    assert cb.seconds_left([a, b], a, result(1, 600)) == pytest.approx(11 * 600 / 2)
    cb.on_trial_result(3, [a, b], b, result(1, 960))
    b.last_result, b.has_reported_at_least_once = result(1, 960), True
    assert "sweep ~1 h 05 min left" in capsys.readouterr().out  # m1 = mL = 780: 10 phases / 2
    # m1 = 780, mL = 240: A 1 + B 2 later phases, 2 unstarted trials of 780 + 2 x 240: 3240 s / 2
    cb.on_trial_result(4, [a, b], a, result(2, 240))
    assert "sweep ~27 min left" in capsys.readouterr().out

    # resumed: A finished before the interruption, B had 2 phases; C and D not created yet. B's
    # phase 3 (400 s) is the only timing: 2 unstarted trials x 3 phases x 400 s, one running at once
    resumed = PhaseProgress(4, 12, 3)
    a = trial("t0", "TERMINATED", result(3, 300))
    b = trial("t1", "RUNNING", result(2, 300))
    resumed.on_step_end(0, [a, b])
    assert resumed.seconds_left([a, b], b, result(3, 400)) is None
    resumed.on_trial_result(1, [a, b], b, result(3, 400))
    assert "(in 6 min 40 s; 1/4 trials done; sweep ~40 min left)" in capsys.readouterr().out


@pytest.mark.slow
def test_a_real_sweep_prints_lines_inside_phases_and_the_time_left(tmp_path, ray_local, capsys):
    path = write_sweep(tmp_path, "live", seeds=[0])
    # no validation split: a sweep that chooses no setting ranks on nothing (Tune asks for no metric)
    plan = plan_sweep(path, overrides={"train.epochs_first": 30, "train.epochs": 30,
                                       "dataset.val_fraction": 0})
    results = run_sweep(plan, progress_every=0.3)
    out = capsys.readouterr().out
    assert len(results) == 1 and results[0].error is None
    inside = [line for line in out.splitlines() if " training, epoch " in line]
    assert inside, out
    assert inside[0].startswith(f"[{results[0].metrics['trial_id']}] base seed=0: phase ")
    assert "into the phase)" in inside[0]
    assert "trials done; sweep " in out and " left)" in out
    assert "Number of trials" not in out  # Tune's box is not printed
    # the reporting changes no metric: the trial ends as the in-process run does
    expected = reference_phases(plan.experiment_config(TrialSpec("base", 0)))
    got = results[0].metrics
    assert same_metrics(expected[-1], got) == []


def wait_until_lost(board: Any, timeout_s: float = 30.0) -> None:
    """Until a killed board answers with RayActorError (ray.kill only starts the kill)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            ray.get(board.interval.remote(), timeout=timeout_s)
        except ray.exceptions.RayActorError:
            return
        assert time.monotonic() < deadline, "the killed board still answers"
        time.sleep(0.1)


def test_a_lost_board_costs_the_lines_inside_phases_not_the_trials(ray_local, monkeypatch):
    """The board sits on the driver's node; were it lost anyway, a trial starting its learner
    skips progress reporting instead of failing, and the driver's watcher stops asking."""
    board = progress.start_board(5.0)
    assert ray.get(board.interval.remote()) == 5.0
    watcher = BoardWatcher(board)
    progress.stop_board(board)
    wait_until_lost(board)  # ray.kill returns before the actor is gone
    monkeypatch.setattr(progress, "find_board", lambda: board)  # a handle to the lost board
    progress.watch_learner(None, "t", "label")  # returns, never asking the learner to report
    watcher.poll()  # a question to the lost board
    ray.wait([watcher.pending], timeout=10)
    assert watcher.poll() == {} and watcher.poll() == {} and watcher.pending is None
