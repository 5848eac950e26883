"""A sweep's folder: ``sweep.json`` (the plan that made it), and the checks that keep a new sweep
from mixing into old results and a ``--resume`` from continuing another sweep."""

from __future__ import annotations

import json
from typing import Any

from ray import tune

from raycil.outputs import check_writable_dir
from raycil.schema import ConfigError
from raycil.sweep import tune_state
from raycil.sweep.plan import SweepPlan

PLAN_FILE = "sweep.json"


def plan_record(plan: SweepPlan) -> dict[str, Any]:
    """What ``sweep.json`` keeps: the validated sweep, the base experiment and the trial list."""
    return {"source": plan.source, "sweep": plan.sweep.model_dump(mode="json"), "base": plan.base,
            "variant_bases": plan.variant_bases, "trials": [t.tune_config() for t in plan.trials],
            "max_phases": plan.max_phases}


def check_outputs(plan: SweepPlan, resume: bool) -> list[str]:
    """Refuse to mix a new sweep into old results, or to resume something else (before Ray starts).

    On ``--resume``, state files torn by the interruption are mended first; what was done, a line each.
    """
    exp, saved = plan.exp_dir, plan.exp_dir / PLAN_FILE
    check_writable_dir(exp, "storage_path")
    if resume:
        if not tune.Tuner.can_restore(exp) or not saved.is_file():
            raise ConfigError(f"--resume: {exp} holds no sweep to resume")
        before = json.loads(saved.read_text())
        now = json.loads(json.dumps(plan_record(plan)))
        for key, what in (("sweep", "settings"), ("base", "base experiment"),
                          ("variant_bases", "variants' base experiments"), ("trials", "trial list")):
            if before.get(key, {}) != now[key]:
                raise ConfigError(f"--resume: the sweep's {what} differs from the run in {exp}; "
                                  "resume with the same file, --profile and --set")
        return tune_state.repair(exp)
    if tune.Tuner.can_restore(exp):  # (a sweep.json alone: killed before Tune started; redo it)
        raise ConfigError(f"name: {exp} already holds a sweep; pass --resume to continue it or choose "
                          "another name (--set name=...)")
    return []
