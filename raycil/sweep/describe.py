"""The ``--dry-run`` listing of a sweep's plan, and its first line, printed when a sweep starts."""

from __future__ import annotations

from raycil.sweep.plan import SweepPlan
from raycil.sweep.protocols import TuningPlan


def describe(plan: SweepPlan) -> str:
    """The ``--dry-run`` listing: one line per trial (or the Optuna search it will run)."""
    s = plan.sweep
    lines = [f"sweep '{s.name}' from {plan.source}: search {s.search.kind}, scheduler {s.scheduler.kind}, "
             f"{'objectives' if s.objectives else 'objective'} {'; '.join(o.label() for o in s.ranked)}, "
             f"outputs in {plan.exp_dir}"]
    if s.search.kind == "optuna":
        space = ", ".join(f"{k} ~ {v.kind}{v.args}" for k, v in s.search_space.items())
        lines.append(f"{s.search.num_samples} Optuna TPE trials of variant {plan.variant_names[0]}, "
                     f"seed {s.seeds[0]} over: {space}")
        return "\n".join(lines)
    lines.append(f"{len(plan.trials)} trials = {len(plan.variant_names)} variants x "
                 f"{len(plan.trials) // max(1, len(plan.variant_names) * len(s.seeds))} settings x "
                 f"{len(s.seeds)} seeds")
    for i, spec in enumerate(plan.trials):
        lines.append(f"  {i:4d}  {spec.label()}")
    return "\n".join(lines)


def describe_tuning(tp: TuningPlan) -> str:
    """The ``--dry-run`` listing of a tuning sweep: each stage-1 sub-sweep's, then what stage 2 runs."""
    s = tp.main.sweep
    lines = [f"tuning sweep '{s.name}' from {tp.source}: protocols {', '.join(tp.protocols)}; "
             f"evaluation seeds {s.seeds}; outputs in {tp.exp_dir}"]
    for stage in tp.stages:
        changed = "".join(f", {k}={v}" for k, v in stage.overrides.items())
        lines += ["", f"stage 1 for {', '.join(stage.protocols)} (seeds {stage.plan.sweep.seeds}{changed}):",
                  describe(stage.plan)]
    lines += ["", f"stage 2: each protocol's chosen setting on seeds {s.seeds}, the whole protocol, test "
              "data reported (runs a full stage-1 sub-sweep made are not run again)"]
    return "\n".join(lines)
