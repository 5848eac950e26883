"""The Tune trainable: one trial = one multi-phase CIL run hosted by two actors.

The trial reserves a placement group of three bundles (its own driver thread, the LearnerActor,
the MemoryActor; see :func:`placement`), so a trial starts only when both of its actors can be
placed. It creates the actors, then drives the phases through ``raycil.learner.phases.run_phases``
(the one phase loop) and after every phase reports that phase's metrics with a checkpoint holding
the learner's and the memory's state and the phase history (:mod:`raycil.sweep.checkpoints`). A
restored or retried trial loads the newest whole state on disk (Tune's own checkpoint, or a newer
one in the trial's folder when Tune's experiment snapshot predates it) into fresh actors and
continues from the next phase; phases reseed from (seed, phase) (``raycil.seeding``), so on CPU
it ends with the metrics of an uninterrupted run. The trial's folder also gets ``experiment.yaml``, its full
experiment config: ``python -m raycil.run`` on it gives the trial's metrics.

The driver (Tune's function trainable) imports no torch and does no work an actor could do: the
actors train, select and serialise their state; the driver relays object references, writes the
bytes and JSON they hand it and reports.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import yaml
from ray import tune

from raycil.config.composed import ExperimentConfig
from raycil.learner.phases import run_phases
from raycil.metrics import run_summary
from raycil.plugins.assembly import memory_args
from raycil.sweep.actors import LearnerActor, MemoryActor, RemoteLearner, RemoteMemory, actor_name, spawn
from raycil.sweep.checkpoints import resume_point, save_checkpoint
from raycil.sweep.plan import SweepPlan, TrialSpec, num_phases
from raycil.sweep.progress import watch_learner
from raycil.sweep.settings import Resources

CONFIG_FILE = "experiment.yaml"
PHASES_FILE = "phases.json"


def placement(resources: Resources) -> tune.PlacementGroupFactory:
    """Bundles: [trial driver, LearnerActor (+ GPU), MemoryActor]."""
    learner = {"CPU": resources.learner_cpu, **({"GPU": resources.gpu} if resources.gpu else {})}
    return tune.PlacementGroupFactory([{"CPU": resources.driver_cpu}, learner,
                                       {"CPU": resources.memory_cpu}])


def phase_report(spec: TrialSpec, total: int, history: list[dict[str, Any]]) -> dict[str, Any]:
    """What one ``tune.report`` carries for the last phase of ``history``: that phase's metrics
    (with the node it ran on), the trial's identity and swept params, and the running summary
    (average incremental accuracy so far, forgetting so far)."""
    summary = {k: v for k, v in run_summary(history).items() if k != "num_phases"}
    return {"variant": spec.variant, "seed": spec.seed, **spec.params, **history[-1], **summary,
            "phases_total": total}


def write_phases(storage: Any, spec: TrialSpec, total: int, history: list[dict[str, Any]],
                 config: dict[str, Any]) -> None:
    """``phases.json`` in the trial's folder: every phase's report so far, rewritten whole after
    each phase (Tune's ``result.json`` loses the lines it had not flushed when its driver is
    killed; a resumed trial's history restores them here). The report reads it first."""
    trial_id = tune.get_context().get_trial_id()
    rows = [{"trial_id": trial_id, "config": config, **phase_report(spec, total, history[:k])}
            for k in range(1, len(history) + 1)]
    fs, path = storage.storage_filesystem, f"{storage.trial_fs_path}/{PHASES_FILE}"
    with fs.open_output_stream(path + ".tmp") as f:
        f.write(json.dumps(rows, allow_nan=True).encode())
    fs.move(path + ".tmp", path)


def write_config(storage: Any, cfg: ExperimentConfig) -> None:
    """``experiment.yaml`` in the trial's folder: the full config ``raycil.run`` reproduces it from."""
    text = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
    storage.storage_filesystem.create_dir(storage.trial_fs_path, recursive=True)
    with storage.storage_filesystem.open_output_stream(f"{storage.trial_fs_path}/{CONFIG_FILE}") as f:
        f.write(text.encode())


def run_trial(config: dict[str, Any], plan: SweepPlan) -> None:
    """The function trainable (``config`` holds variant, seed and the swept parameter values)."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per saved checkpoint
    spec = TrialSpec.from_tune_config(config)
    cfg = plan.experiment_config(spec)
    res = plan.sweep.resources
    trial_id = tune.get_context().get_trial_id()
    pg = ray.util.get_current_placement_group()
    learner = spawn(LearnerActor, actor_name(trial_id, spec.variant, "LearnerActor"), (cfg,), pg, 1,
                    res.learner_cpu, res.gpu)
    memory = spawn(MemoryActor, actor_name(trial_id, spec.variant, "MemoryActor"), memory_args(cfg), pg, 2,
                   res.memory_cpu)
    try:
        watch_learner(learner, trial_id, spec.label())  # progress inside a phase, if the sweep asks
        history: list[dict[str, Any]] = []
        storage = tune.get_context().get_storage()
        write_config(storage, cfg)
        state = resume_point(storage)
        if state is not None:
            ray.get([learner.restore.remote(state["learner"]), memory.restore.remote(state["memory"])])
            history = state["history"]
        node, total = ray.get(learner.node_id.remote()), num_phases(cfg)
        clock = {"phase_start": time.time()}

        def on_phase(metrics: dict[str, Any], history: list[dict[str, Any]]) -> None:
            # into the history too: a resumed trial keeps where and when each phase ran
            metrics.update(learner_node=node, started_at=clock["phase_start"], ended_at=time.time())
            with tempfile.TemporaryDirectory() as d:
                states = ray.get([learner.checkpoint.remote(), memory.checkpoint.remote()])
                save_checkpoint(Path(d), *states, history)
                # before the report: a scheduler that stops the trial (ASHA at its rung or at
                # max_t) ends it inside tune.report
                write_phases(storage, spec, total, history, config)
                tune.report(phase_report(spec, total, history), checkpoint=tune.Checkpoint.from_directory(d))
            clock["phase_start"] = time.time()

        run_phases(cfg, RemoteLearner(learner), RemoteMemory(memory), history=history, on_phase=on_phase)
    finally:
        for actor in (learner, memory):
            ray.kill(actor)
