"""The checks a sweep's plan makes before Ray starts, beyond each trial config's own: swept and
variant keys that name no experiment field, trials that cannot get the device or threads they ask
for, and trials ASHA could not rank fairly. Each failure is one ConfigError line."""

from __future__ import annotations

from raycil.config.composed import ExperimentConfig
from raycil.config.errors import model_at, nearest
from raycil.data.config import has_validation
from raycil.data.protocol import phase_sizes
from raycil.schema import ConfigError
from raycil.sweep.settings import VARIANT_BASE, Resources, Scheduler, SweepConfig


def check_keys(sweep: SweepConfig) -> None:
    """Every swept or variant key names an experiment field: else one line saying where it is."""
    items = [(f"search_space.{key}", key) for key in sweep.search_space]
    items += [(f"variants.{name}.{key}", key)
              for name, overrides in sweep.variants.items() for key in overrides]
    for label, key in items:
        if key == VARIANT_BASE:
            continue
        *path, last = key.split(".")
        parent = model_at(tuple(path), ExperimentConfig)
        if parent is None or last not in parent.model_fields:
            allowed = list(parent.model_fields) if parent is not None else []
            hint = nearest(last, allowed) if allowed else " (not inside an experiment section)"
            raise ConfigError(f"{label}: unknown key{hint}")


def check_trial_resources(resources: Resources, cfgs: list[ExperimentConfig]) -> None:
    """Each trial's device, precision and torch threads fit what ``resources`` gives its LearnerActor."""
    if resources.gpu == 0 and any(c.device == "cuda" for c in cfgs):
        raise ConfigError("resources.gpu: 0, but the experiment asks for device 'cuda'; give each trial "
                          "a GPU share (e.g. resources.gpu: 0.5) or use device auto")
    if resources.gpu == 0 and any(c.train.precision == "fp16" for c in cfgs):
        raise ConfigError("resources.gpu: 0, but the experiment trains in train.precision fp16, which needs "
                          "a CUDA device; give each trial a GPU share or use bf16 / fp32")
    threads = max(c.threads for c in cfgs)
    if threads > resources.learner_threads:
        raise ConfigError(f"experiment.threads: {threads} torch threads, but each LearnerActor holds "
                          f"{resources.learner_cpu:g} CPUs (resources.cpu - memory_cpu - driver_cpu); give "
                          f"resources.cpu >= {threads + resources.memory_cpu + resources.driver_cpu:g} or "
                          "fewer threads")


def check_validation(sweep: SweepConfig, cfgs: list[ExperimentConfig]) -> None:
    """A sweep that chooses on the validation split needs one in every trial's data."""
    if not sweep.chooses or not any(o.split == "val" and o.key != o.metric for o in sweep.ranked):
        return
    if any(not has_validation(c.dataset) for c in cfgs):
        raise ConfigError("objective.split: val ranks on the validation split, but dataset.val_fraction is 0 "
                          "(no validation split); set it above 0, or objective.split: test (an oracle's "
                          "choice)")


def check_asha(scheduler: Scheduler, cfgs: list[ExperimentConfig], max_phases: int) -> None:
    """ASHA ranks trials by the objective at the same phase: the trials must learn the same
    classes at each phase (a 10-phase trial's phase 2 has seen fewer classes than a 5-phase
    one's, and would be kept for that alone), and reach its first rung."""
    schedules = sorted({tuple(phase_sizes(c.protocol, c.num_classes)) for c in cfgs}, key=len)
    if len(schedules) > 1:
        shown = " vs ".join(f"{len(x)} phases of {'/'.join(map(str, x))} classes" for x in schedules[:2])
        raise ConfigError(f"scheduler.kind: asha ranks trials at the same phase, but these trials learn "
                          f"their classes on different schedules ({shown}); use fifo, or one sweep per "
                          "protocol")
    if scheduler.grace_period > max_phases:
        raise ConfigError(f"scheduler.grace_period: {scheduler.grace_period} phases exceeds the "
                          f"trials' {max_phases} phases")
