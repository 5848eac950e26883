"""Running a tuning sweep's stages one after another on the connected Ray cluster
(:mod:`raycil.sweep.protocols` plans them): each stage-1 sub-sweep, the protocols' choices, then
stage 2, each stage resumed where a folder of it exists and skipped once all its trials are done."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ray import tune

from raycil.report.build import build
from raycil.report.loading import counts, load_experiment
from raycil.sweep.describe import describe
from raycil.sweep.outputs import check_outputs
from raycil.sweep.plan import SweepPlan
from raycil.sweep.protocols import (
    CHOSEN_FILE,
    TUNING_FILE,
    TuningPlan,
    choose,
    plan_stage2,
    stage2_variants,
    tuning_record,
    write_json,
)
from raycil.sweep.tuner import run_sweep


@dataclass
class StagedRun:
    """What a tuning sweep's run did: the trials that failed, and whether it was stopped by a signal."""

    failed: int = 0
    stopped: bool = False
    stages_done: list[str] = field(default_factory=list)


def finished(plan: SweepPlan) -> bool:
    """Every planned trial of the sub-sweep is complete or was stopped by its scheduler."""
    try:
        n = counts(load_experiment(plan.exp_dir))
    except FileNotFoundError:
        return False
    return n["complete"] + n["stopped early"] == n["planned"]


def run_stage(label: str, plan: SweepPlan, progress_every: float) -> int:
    """Run (or resume, or skip when finished) one sub-sweep; the number of its trials that failed."""
    exists = tune.Tuner.can_restore(plan.exp_dir)
    if exists and finished(plan):
        print(f"raycil.sweep: {label} '{plan.sweep.name}' finished before; kept as it is", flush=True)
        return 0
    for line in check_outputs(plan, exists):
        print(f"raycil.sweep: {line}")
    print(f"raycil.sweep: {label}: {describe(plan).splitlines()[0]}", flush=True)
    results = run_sweep(plan, exists, progress_every)
    try:
        build(plan.exp_dir)
    except FileNotFoundError:  # interrupted before any of its trials reported a phase
        pass
    return sum(r.error is not None for r in results)


def run_tuning(tp: TuningPlan, progress_every: float, stop_requested: Callable[[], bool]) -> StagedRun:
    """Stage 1 (every sub-sweep), the choices (``chosen.json``), stage 2; stops after the stage in
    which ``stop_requested()`` became true."""
    out = StagedRun()
    tp.exp_dir.mkdir(parents=True, exist_ok=True)
    write_json(tp.exp_dir / TUNING_FILE, tuning_record(tp))
    for stage in tp.stages:
        out.failed += run_stage(f"stage 1 ({', '.join(stage.protocols)})", stage.plan, progress_every)
        if stop_requested():
            out.stopped = True
            return out
        out.stages_done.append(stage.name)
    chosen = choose(tp)
    write_json(tp.exp_dir / CHOSEN_FILE, chosen)
    for protocol, entry in chosen.items():
        setting = ", ".join(f"{k}={v}" for k, v in entry["setting"].items())
        print(f"raycil.sweep: {protocol} chose {setting} ({entry['ranked_on']} {entry['score']:.2f} in "
              f"{entry['stage']})", flush=True)
    stage2 = plan_stage2(tp, chosen)
    if stage2.trials:
        out.failed += run_stage(f"stage 2 ({len(set(stage2_variants(chosen).values()))} chosen settings)",
                                stage2, progress_every)
        out.stopped = stop_requested()
    else:
        print("raycil.sweep: stage 2: every chosen setting's evaluation runs were made in stage 1",
              flush=True)
    return out
