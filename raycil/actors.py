"""The two Ray actors of a trial: a MemoryActor hosting the exemplar memory
(:class:`~raycil.memory.service.MemoryService`) and a LearnerActor hosting the CIL model
(:class:`~raycil.learner.Learner`). Each is the hosted class itself with torch's thread count set
to the actor's CPUs, so ``raycil.phases.run_phases`` drives them through :func:`actor_call`
exactly as ``raycil.run`` drives the in-process objects."""

from __future__ import annotations

import time
import warnings
from typing import Any

import ray
import torch
from ray.util.placement_group import PlacementGroup
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from raycil.config import ExperimentConfig
from raycil.learner import Learner
from raycil.memory.service import MemoryService


def torch_threads(cpus: float) -> int:
    """Torch intra-op threads for an actor holding ``cpus`` CPUs (at least one)."""
    return max(1, int(round(cpus)))


class _Placed:
    """Where an actor runs (for reports and tests of multi-node placement)."""

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()


def _setup_process(cpus: float) -> None:
    torch.set_num_threads(torch_threads(cpus))
    # arrays passed between actors arrive as read-only views of Ray's object store; the batch
    # sources only read them, so torch's warning about non-writable arrays is noise here
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")


class LearnerActor(Learner, _Placed):
    def __init__(self, cfg: ExperimentConfig, cpus: float):
        _setup_process(cpus)
        super().__init__(cfg)


class MemoryActor(MemoryService, _Placed):
    def __init__(self, cfg: ExperimentConfig, cpus: float):
        _setup_process(cpus)
        super().__init__(cfg)


def actor_call(actor: Any, name: str, *args: Any) -> Any:
    """The ``call`` of ``run_phases`` for actor handles: a remote call, waited for."""
    return ray.get(getattr(actor, name).remote(*args))


def actor_name(trial_id: str, variant: str, role: str) -> str:
    """Dashboard name of a trial's actor, e.g. ``LearnerActor[baseline/5f3a1_00002]``."""
    return f"{role}[{variant}/{trial_id}]"


def spawn(cls: type, name: str, cfg: ExperimentConfig, pg: PlacementGroup | None, bundle: int,
          cpus: float, gpus: float = 0.0, timeout_s: float = 30.0) -> Any:
    """Create a named actor in bundle ``bundle`` of the trial's placement group.

    A retried trial reuses its actors' names; if the previous attempt's actor is still being
    torn down, it is killed and the name is claimed again."""
    strategy = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=bundle) if pg else None
    remote = ray.remote(cls).options(name=name, num_cpus=cpus, num_gpus=gpus, max_restarts=0,
                                     scheduling_strategy=strategy)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return remote.remote(cfg, cpus)
        except ray.exceptions.ActorAlreadyExistsError:  # held by a dying actor of an earlier attempt
            if time.monotonic() > deadline:
                raise
            try:
                ray.kill(ray.get_actor(name))
            except ValueError:
                pass
            time.sleep(0.2)
