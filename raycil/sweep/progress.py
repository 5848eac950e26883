"""A sweep's live progress: what each trial is doing inside a phase, and the sweep's time left.

Within a phase: a trial's LearnerActor (:class:`LearnerProgress`, its ``Learner.progress``)
pushes a small :class:`Record` (phase, stage, epoch k/E, seconds into the phase) to the
:class:`ProgressBoard`, a named 0-CPU actor the sweep's driver starts; at most one push per
interval, plus one when the stage changes. The driver's Tune callback asks the board, through a
:class:`BoardWatcher`, at most once per interval and without blocking, for the records that
changed, so each trial prints at most one line per interval. Pushes are fire-and-forget
``.remote()`` calls; nothing here touches torch or a random number generator, so the metrics do
not depend on it. Without a board (``raycil.run``, an actor made by hand, ``--progress-every 0``)
nothing is pushed.

Time left (:func:`seconds_left`), after every finished phase: the median wall time of the
finished first phases (m1) and of the finished later phases (mL) — each falls back to the median
of all finished phases until one of its kind has finished — priced over the phases still to
train: mL for each phase left of a trial with a finished phase; for a trial with none, m1 for its
first phase and mL for each further one (the plan's phase count). The sum is divided by the most
trials seen running at once, and is never less than the longest single trial still to run. A phase
under way counts as whole.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

BOARD_NAME = "raycil.ProgressBoard"
EVERY_S = 10.0  # default seconds between a trial's progress lines (--progress-every)

Clock = Callable[[], float]


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 02 s``, ``1 h 05 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def rough(seconds: float) -> str:
    """An estimate's precision: ``<1 min``, ``~12 min``, ``~1 h 05 min``."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "<1 min"
    return f"~{minutes} min" if minutes < 60 else f"~{minutes // 60} h {minutes % 60:02d} min"


class Throttle:
    """True at most once per ``every`` seconds of ``clock``; the first call is True."""

    def __init__(self, every: float, clock: Clock = time.monotonic):
        self.every, self.clock, self.last = every, clock, None

    def __call__(self) -> bool:
        now = self.clock()
        if self.last is not None and now - self.last < self.every:
            return False
        self.last = now
        return True


@dataclass(frozen=True)
class Record:
    """Where a trial is inside its phase."""

    label: str
    phase: int
    phases: int
    stage: str
    epoch: int | None
    epochs: int | None
    seconds: float  # since the phase began

    def line(self, key: str) -> str:
        epoch = f", epoch {self.epoch}/{self.epochs}" if self.epoch is not None else ""
        return (f"[{key}] {self.label}: phase {self.phase}/{self.phases} {self.stage}{epoch} "
                f"({duration(self.seconds)} into the phase)")


class ProgressBoard:
    """The latest record of every trial (hosted as a named 0-CPU actor by the sweep's driver)."""

    def __init__(self, every: float):
        self.every, self.seq = every, 0
        self.records: dict[str, tuple[int, Record]] = {}

    def interval(self) -> float:
        return self.every

    def update(self, key: str, record: Record) -> None:
        self.seq += 1
        self.records[key] = (self.seq, record)

    def changed(self, since: int) -> tuple[int, float, dict[str, Record]]:
        """The number to ask from next, the interval, and the records pushed after ``since``."""
        return self.seq, self.every, {k: r for k, (n, r) in self.records.items() if n > since}


def start_board(every: float, timeout_s: float = 10.0) -> Any:
    """The sweep's board (None when ``every`` is 0: progress off). A board of an earlier sweep
    of this driver that is still being torn down is killed and its name claimed again."""
    if every <= 0:
        return None
    # on the driver's node: a 0-CPU actor may land on any node, and a lost worker node must not
    # take the board (and every trial's progress) with it; the driver's node ends the sweep anyway
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    remote = ray.remote(ProgressBoard).options(name=BOARD_NAME, num_cpus=0, max_restarts=0,
                                               scheduling_strategy=here)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return remote.remote(every)
        except ray.exceptions.ActorAlreadyExistsError:
            if time.monotonic() > deadline:
                raise
            stop_board(find_board())
            time.sleep(0.2)


def find_board() -> Any:
    """The running sweep's board, or None."""
    if not ray.is_initialized():
        return None
    try:
        return ray.get_actor(BOARD_NAME)
    except ValueError:
        return None


def stop_board(board: Any) -> None:
    if board is not None:
        ray.kill(board)


def watch_learner(learner: Any, key: str, label: str) -> None:
    """Have a trial's LearnerActor push its progress to the sweep's board, if the sweep runs one
    and it is alive (progress lines are never worth a failed trial)."""
    board = find_board()
    if board is None:
        return
    try:
        every = ray.get(board.interval.remote())
    except ray.exceptions.RayActorError:
        return
    ray.get(learner.report_progress.remote(board, key, label, every))


class LearnerProgress:
    """A LearnerActor's ``Learner.progress``: throttled records for the board."""

    def __init__(self, board: Any, key: str, label: str, every: float, clock: Clock = time.monotonic):
        self.board, self.key, self.label, self.clock = board, key, label, clock
        self.throttle = Throttle(every, clock)
        self.phase, self.phases, self.start, self.stage_name = 0, 0, clock(), ""

    def start_phase(self, phase: int, phases: int) -> None:
        self.phase, self.phases, self.start, self.stage_name = phase, phases, self.clock(), ""

    def stage(self, name: str) -> None:
        """Push now: a new stage without epochs (printing is still throttled by the driver)."""
        self.stage_name = name
        self.push(None, None)

    def __call__(self, desc: str, step: int, total: int, loss: Any, epochs: int) -> None:
        name = "training" if desc.startswith("phase ") else desc
        changed = name != self.stage_name
        if not (self.throttle() or changed):
            return
        self.stage_name = name
        self.push(-(-step * epochs // max(1, total)), epochs)

    def push(self, epoch: int | None, epochs: int | None) -> None:
        record = Record(self.label, self.phase, self.phases, self.stage_name, epoch, epochs,
                        self.clock() - self.start)
        self.board.update.remote(self.key, record)  # fire and forget


class BoardWatcher:
    """The driver's side: ask the board at most once per its interval, never waiting for it."""

    def __init__(self, board: Any, clock: Clock = time.monotonic):
        self.board, self.throttle = board, Throttle(0.0, clock)  # the interval comes with the answer
        self.since, self.pending = 0, None

    def poll(self) -> dict[str, Record]:
        """The records changed since the last answer (empty while a question is out)."""
        if self.pending is not None:
            ready, _ = ray.wait([self.pending], timeout=0)
            if not ready:
                return {}
            try:
                self.since, self.throttle.every, records = ray.get(self.pending)
            except ray.exceptions.RayActorError:  # the board is gone: no more lines inside phases
                self.throttle.every, records = math.inf, {}
            self.pending = None
            return records
        if self.throttle():
            self.pending = self.board.changed.remote(self.since)
        return {}


def seconds_left(first: Sequence[float], later: Sequence[float], left: Sequence[int], unstarted: int,
                 unstarted_phases: int, running: int) -> float | None:
    """The sweep's time left (rule in the module docstring); None before any phase has finished.

    ``first`` / ``later``: wall seconds of the finished first / later phases; ``left``: the phases
    still to train of each unfinished trial with a finished phase; ``unstarted``: the trials
    without one, ``unstarted_phases`` their phases in all; ``running``: trials run at once."""
    if not first and not later:
        return None
    every = [*first, *later]
    m1 = statistics.median(first or every)
    m_later = statistics.median(later or every)
    extra = max(0, unstarted_phases - unstarted)
    work = sum(left) * m_later + unstarted * m1 + extra * m_later
    longest = [n * m_later for n in left] + ([m1 + extra / unstarted * m_later] if unstarted else [])
    return max(work / max(1, running), max(longest, default=0.0))
