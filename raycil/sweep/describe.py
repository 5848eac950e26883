"""The ``--dry-run`` listing of a sweep's plan, and its first line, printed when a sweep starts."""

from __future__ import annotations

from raycil.sweep.plan import SweepPlan


def describe(plan: SweepPlan) -> str:
    """The ``--dry-run`` listing: one line per trial (or the Optuna search it will run)."""
    s = plan.sweep
    lines = [f"sweep '{s.name}' from {plan.source}: search {s.search.kind}, scheduler {s.scheduler.kind}, "
             f"objective {s.objective.mode} {s.objective.metric}, outputs in {plan.exp_dir}"]
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
