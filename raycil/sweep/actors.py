"""The two Ray actors of a trial, in a module that imports neither torch nor the learner:

- a MemoryActor hosting the exemplar memory (:class:`~raycil.memory.service.MemoryService`,
  built from ``raycil.plugins.assembly.memory_args``: NumPy, OpenCV and its codec's module);
- a LearnerActor hosting the CIL model: it builds its :class:`~raycil.learner.learner.Learner`
  (with the active plug-ins) in its own process, so torch loads there and not in the trial's
  driver, and trains with the experiment's ``threads`` torch threads (as ``raycil.run`` does,
  so both give the same metrics).

Each serialises its own state for the trial's checkpoints (``checkpoint`` / ``restore``: bytes the
driver stores without reading). :class:`RemoteLearner` and :class:`RemoteMemory` give
``raycil.learner.phases.run_phases`` the same two interfaces as the in-process objects; between
them, exemplars and candidates travel as object references, from one actor to the other without
passing through the trial's driver; so do a recorded generator's weights (learner to memory after
a phase, memory to learner at the next)."""

from __future__ import annotations

import io
import pickle
import time
import warnings
from typing import TYPE_CHECKING, Any

import ray
from ray.util.placement_group import PlacementGroup
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from raycil.data.protocol import PhaseContext
from raycil.memory.service import MemoryService
from raycil.plugins.assembly import make_learner
from raycil.sweep.progress import LearnerProgress

if TYPE_CHECKING:
    from raycil.experiment import Experiment

__all__ = ["LearnerActor", "MemoryActor", "RemoteLearner", "RemoteMemory", "actor_name", "spawn"]


class Placed:
    """Where an actor runs (for reports and tests of multi-node placement)."""

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()


class MemoryActor(MemoryService, Placed):
    """The memory as an actor; its checkpoint is its state pickled (exemplar records as arrays)."""

    def checkpoint(self) -> bytes:
        return pickle.dumps(self.state(), protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, data: bytes) -> None:
        self.load_state(pickle.loads(data))  # noqa: S301 - bytes this trial's MemoryActor wrote


class LearnerActor(Placed):
    """The run's Learner, built in the actor's process; ``report_progress`` makes it push its
    progress inside a phase (``raycil.sweep.progress``: the stage, epoch k/E) to a sweep's board."""

    def __init__(self, cfg: Experiment):
        import torch  # the actor's process, not the trial's driver, loads torch

        torch.set_num_threads(cfg.threads)
        # arrays passed between actors arrive as read-only views of Ray's object store; the batch
        # sources only read them, so torch's warning about non-writable arrays is noise here
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        self.learner = make_learner(cfg)
        self.reporter: LearnerProgress | None = None

    def report_progress(self, board: Any, key: str, label: str, every: float) -> None:
        self.reporter = self.learner.progress = LearnerProgress(board, key, label, every)

    def _stage(self, name: str) -> None:
        if self.reporter is not None:
            self.reporter.stage(name)

    def train_phase(self, ctx: PhaseContext, exemplars: Any, generator: Any = None) -> dict[str, float]:
        if self.reporter is not None:
            self.reporter.start_phase(ctx.phase, ctx.num_phases)
        return self.learner.train_phase(ctx, exemplars, generator)

    def exemplar_candidates(self, ctx: PhaseContext, with_features: bool) -> Any:
        self._stage("selecting exemplars")
        return self.learner.exemplar_candidates(ctx, with_features)

    def refine_exemplars(self, ctx: PhaseContext, exemplars: Any) -> Any:
        self._stage("refining exemplars")
        return self.learner.refine_exemplars(ctx, exemplars)

    def after_phase(self, ctx: PhaseContext, exemplars: Any) -> None:
        self.learner.after_phase(ctx, exemplars)

    def record_generator(self, ctx: PhaseContext) -> Any:
        self._stage("recording the generator")
        return self.learner.record_generator(ctx)

    def evaluate(self, ctx: PhaseContext, first_classes: int) -> dict[str, float]:
        return self.learner.evaluate(ctx, first_classes)

    def checkpoint(self) -> bytes:
        """The learner's state (its network, method and plug-in state) as ``torch.save`` writes it."""
        import torch

        buffer = io.BytesIO()
        torch.save(self.learner.state(), buffer)
        return buffer.getvalue()

    def restore(self, data: bytes) -> None:
        import torch

        self.learner.load_state(torch.load(io.BytesIO(data), weights_only=False))


class RemoteLearner:
    """A LearnerActor as ``run_phases`` drives it (``phases.LearnerSide[ObjectRef, ObjectRef]``):
    it takes the exemplars as the MemoryActor's object reference and returns the candidates as
    one for the MemoryActor, so neither is fetched by the driver."""

    def __init__(self, actor: Any):
        self.actor = actor

    def train_phase(self, ctx: PhaseContext, exemplars: ray.ObjectRef,
                    generator: ray.ObjectRef | None = None) -> dict[str, float]:
        return ray.get(self.actor.train_phase.remote(ctx, exemplars, generator))

    def exemplar_candidates(self, ctx: PhaseContext, with_features: bool) -> ray.ObjectRef:
        return self.actor.exemplar_candidates.remote(ctx, with_features)

    def refine_exemplars(self, ctx: PhaseContext, exemplars: ray.ObjectRef) -> ray.ObjectRef:
        return self.actor.refine_exemplars.remote(ctx, exemplars)

    def after_phase(self, ctx: PhaseContext, exemplars: ray.ObjectRef) -> None:
        ray.get(self.actor.after_phase.remote(ctx, exemplars))

    def record_generator(self, ctx: PhaseContext) -> ray.ObjectRef:
        return self.actor.record_generator.remote(ctx)

    def evaluate(self, ctx: PhaseContext, first_classes: int) -> dict[str, float]:
        return ray.get(self.actor.evaluate.remote(ctx, first_classes))


class RemoteMemory:
    """A MemoryActor as ``run_phases`` drives it (``phases.MemorySide[ObjectRef, ObjectRef]``)."""

    def __init__(self, actor: Any):
        self.actor = actor

    def exemplars(self) -> ray.ObjectRef:
        return self.actor.exemplars.remote()

    def generator(self) -> ray.ObjectRef:
        return self.actor.generator.remote()

    def keep_generator(self, state: ray.ObjectRef) -> None:
        ray.get(self.actor.keep_generator.remote(state))

    def needs_features(self) -> bool:
        return ray.get(self.actor.needs_features.remote())

    def update(self, ctx: PhaseContext, candidates: ray.ObjectRef) -> None:
        ray.get(self.actor.update.remote(ctx, candidates))

    def rewrite(self, exemplars: ray.ObjectRef) -> None:
        ray.get(self.actor.rewrite.remote(exemplars))

    def stats(self) -> dict[str, float]:
        return ray.get(self.actor.stats.remote())


def actor_name(trial_id: str, variant: str, role: str) -> str:
    """Dashboard name of a trial's actor, e.g. ``LearnerActor[baseline/5f3a1_00002]``."""
    return f"{role}[{variant}/{trial_id}]"


def spawn(cls: type, name: str, args: tuple[Any, ...], pg: PlacementGroup | None, bundle: int,
          cpus: float, gpus: float = 0.0, timeout_s: float = 30.0) -> Any:
    """Create a named actor ``cls(*args)`` in bundle ``bundle`` of the trial's placement group
    (a LearnerActor's args: the experiment; a MemoryActor's: ``raycil.plugins.assembly.memory_args``).

    A retried trial reuses its actors' names; if the previous attempt's actor is still being
    torn down, it is killed and the name is claimed again."""
    strategy = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=bundle) if pg else None
    remote = ray.remote(cls).options(name=name, num_cpus=cpus, num_gpus=gpus, max_restarts=0,
                                     scheduling_strategy=strategy)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return remote.remote(*args)
        except ray.exceptions.ActorAlreadyExistsError:  # held by a dying actor of an earlier attempt
            if time.monotonic() > deadline:
                raise
            try:
                ray.kill(ray.get_actor(name))
            except ValueError:
                pass
            time.sleep(0.2)
