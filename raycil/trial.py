"""The Tune trainable: one trial = one multi-phase CIL run hosted by two actors.

The trial reserves a placement group of three bundles (its own driver thread, the LearnerActor,
the MemoryActor; see :func:`placement`), so a trial starts only when both of its actors can be
placed. It creates the actors, then drives the phases through ``raycil.phases.run_phases`` (the
one phase loop) and after every phase reports that phase's metrics with a checkpoint holding the
learner's and the memory's state and the phase history. A restored or retried trial loads that
state into fresh actors and continues from the next phase; phases reseed from (seed, phase)
(``raycil.seeding``), so on CPU it ends with the metrics of an uninterrupted run.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from raycil.actors import LearnerActor, MemoryActor, RemoteLearner, RemoteMemory, actor_name, spawn
from raycil.metrics import run_summary
from raycil.phases import run_phases
from raycil.sweep_config import Resources, SweepPlan, TrialSpec, num_phases

STATE_FILE = "trial_state.pt"


def placement(resources: Resources) -> tune.PlacementGroupFactory:
    """Bundles: [trial driver, LearnerActor (+ GPU), MemoryActor]."""
    learner = {"CPU": resources.learner_cpu, **({"GPU": resources.gpu} if resources.gpu else {})}
    return tune.PlacementGroupFactory([{"CPU": resources.driver_cpu}, learner,
                                       {"CPU": resources.memory_cpu}])


def phase_report(spec: TrialSpec, total: int, metrics: dict[str, Any],
                 history: list[dict[str, Any]], node: str) -> dict[str, Any]:
    """What one ``tune.report`` carries: the phase metrics, the trial's identity and swept
    params, and the running summary (average incremental accuracy so far, forgetting so far)."""
    summary = {k: v for k, v in run_summary(history).items() if k != "num_phases"}
    return {"variant": spec.variant, "seed": spec.seed, **spec.params, **metrics, **summary,
            "phases_total": total, "learner_node": node}


def save_state(directory: Path, learner_state: dict[str, Any], memory_state: dict[str, Any],
               history: list[dict[str, Any]]) -> None:
    torch.save({"learner": learner_state, "memory": memory_state, "history": history},
               directory / STATE_FILE)


def load_state(checkpoint: tune.Checkpoint) -> dict[str, Any]:
    with checkpoint.as_directory() as d:
        return torch.load(Path(d) / STATE_FILE, weights_only=False)


def run_trial(config: dict[str, Any], plan: SweepPlan) -> None:
    """The function trainable (``config`` holds variant, seed and the swept parameter values)."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per saved checkpoint
    spec = TrialSpec.from_tune_config(config)
    cfg = plan.experiment_config(spec)
    res = plan.sweep.resources
    trial_id = tune.get_context().get_trial_id()
    pg = ray.util.get_current_placement_group()
    learner = spawn(LearnerActor, actor_name(trial_id, spec.variant, "LearnerActor"), cfg, pg, 1,
                    res.learner_cpu, res.gpu)
    memory = spawn(MemoryActor, actor_name(trial_id, spec.variant, "MemoryActor"), cfg, pg, 2,
                   res.memory_cpu)
    try:
        history: list[dict[str, Any]] = []
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            state = load_state(checkpoint)
            ray.get([learner.load_state.remote(state["learner"]), memory.load_state.remote(state["memory"])])
            history = state["history"]
        node, total = ray.get(learner.node_id.remote()), num_phases(cfg)

        def on_phase(metrics: dict[str, Any], history: list[dict[str, Any]]) -> None:
            with tempfile.TemporaryDirectory() as d:
                learner_state, memory_state = ray.get([learner.state.remote(), memory.state.remote()])
                save_state(Path(d), learner_state, memory_state, history)
                tune.report(phase_report(spec, total, metrics, history, node),
                            checkpoint=tune.Checkpoint.from_directory(d))

        run_phases(cfg, RemoteLearner(learner), RemoteMemory(memory), history=history, on_phase=on_phase)
    finally:
        for actor in (learner, memory):
            ray.kill(actor)
