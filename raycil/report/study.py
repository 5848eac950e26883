"""The sweep as an Optuna study (``optuna.db``): every trial with its parameters and their
distributions, objective, per-phase intermediate values, real start and end times and the
sweep's user attributes; and PED-ANOVA importances from it."""

from __future__ import annotations

import datetime
import math
import numbers
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from raycil.report.loading import Experiment
from raycil.sweep.settings import ParamSpec, plain

ATTRS = ("variant", "seed", "avg_inc_acc", "last_acc", "forgetting")
# PED-ANOVA compares the best 10% of the complete trials with all of them: below ten there is
# not one trial in that top decile, and a parameter that took one value cannot matter
MIN_TRIALS_FOR_IMPORTANCE = 10


def optuna_url(exp_dir: Path) -> str:
    return f"sqlite:///{Path(exp_dir).resolve() / 'optuna.db'}"


def trial_attrs(trial_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """An Optuna trial's user attributes: variant, seed, accuracy summary, phases, Tune trial id."""
    out = {key: plain(result.get(key)) for key in ATTRS}
    return {**out, "phases": int(result.get("phase", 0)), "tune_trial_id": trial_id}


def distribution(spec: ParamSpec) -> optuna.distributions.BaseDistribution:
    """Listed numbers (grid / choice of ints or floats) as an Int / Float distribution over their
    range, so Optuna's importances and plots treat them as ordered; other lists as categories;
    sampled domains as Tune's Optuna search converts them."""
    if spec.kind in ("grid", "choice"):
        values = list(spec.args)
        if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
            if all(isinstance(v, numbers.Integral) for v in values):
                return optuna.distributions.IntDistribution(int(min(values)), int(max(values)))
            return optuna.distributions.FloatDistribution(float(min(values)), float(max(values)))
        return optuna.distributions.CategoricalDistribution(values)
    from ray.tune.search.optuna import OptunaSearch

    return OptunaSearch.convert_search_space({"p": spec.domain()})["p"]


def _when(seconds: Any) -> datetime.datetime | None:
    return None if seconds is None or pd.isna(seconds) else datetime.datetime.fromtimestamp(float(seconds))


def frozen_trial(exp: Experiment, trial_id: str, dists: dict[str, Any]) -> optuna.trial.FrozenTrial:
    """One Tune trial as an Optuna trial: state from its completeness and Tune status, times
    from its first phase's start and last phase's end."""
    final, keys = exp.final.loc[trial_id], [o.key for o in exp.sweep.ranked]
    phases = exp.rows[exp.rows["trial_id"] == trial_id]
    multi = len(keys) > 1  # Optuna keeps no intermediate values of a multi-objective trial
    inter = {} if multi else {int(p): float(v) for p, v in zip(phases["phase"], phases[keys[0]], strict=True)
                              if not math.isnan(v)}
    values = [float(final[k]) if k in final else math.nan for k in keys]
    value = math.nan if any(math.isnan(v) for v in values) else values[0]
    S = optuna.trial.TrialState
    if final["complete"] and not math.isnan(value):
        state = S.COMPLETE
    elif final["status"] == "TERMINATED":
        state, value = S.PRUNED, math.nan  # stopped early by the scheduler
    elif final["status"] == "ERROR":
        state, value = S.FAIL, math.nan
    else:
        state, value = S.RUNNING, math.nan  # a partial sweep: resumable
    start = _when(phases["started_at"].min()) if "started_at" in phases else None
    end = _when(phases["ended_at"].max()) if "ended_at" in phases and state != S.RUNNING else None
    now = datetime.datetime.now()
    config = exp.configs[trial_id]
    trial = optuna.trial.FrozenTrial(
        number=0, trial_id=0, state=state, value=None if math.isnan(value) or multi else value,
        values=values if multi and not math.isnan(value) else None,
        datetime_start=start or now, datetime_complete=(end or now) if state != S.RUNNING else None,
        params={k: config[k] for k in dists}, distributions=dists, intermediate_values=inter,
        user_attrs=trial_attrs(trial_id, final.to_dict()), system_attrs={})
    trial._validate()
    return trial


def export_optuna(exp: Experiment) -> optuna.Study:
    """Write ``optuna.db``; rebuilt from scratch on every export, so trials never duplicate.
    A ``search: optuna`` sweep's study is the live one the search filled (left as it is)."""
    s = exp.sweep
    url = optuna_url(exp.path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if s.search.kind == "optuna":
        return optuna.load_study(study_name=s.name, storage=url)
    if s.name in {x.study_name for x in optuna.get_all_study_summaries(storage=url)}:
        optuna.delete_study(study_name=s.name, storage=url)
    study = optuna.create_study(study_name=s.name, storage=url,
                                directions=["maximize" if o.mode == "max" else "minimize" for o in s.ranked])
    dists = {k: distribution(spec) for k, spec in s.search_space.items()}
    if len(s.variants) > 1:
        dists["variant"] = optuna.distributions.CategoricalDistribution(list(s.variants))
    study.add_trials([frozen_trial(exp, t, dists) for t in exp.final.index])
    return study


def importances(study: optuna.Study) -> dict[str, float]:
    """PED-ANOVA parameter importances over the complete trials (Optuna's own evaluator; fANOVA
    would need scikit-learn)."""
    from optuna.importance import PedAnovaImportanceEvaluator

    return optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())


def importance_line(exp: Experiment, study: optuna.Study) -> tuple[str, dict[str, float]]:
    """PED-ANOVA importances, computed only from ``MIN_TRIALS_FOR_IMPORTANCE`` complete trials
    among which every swept parameter took at least two values (the rule is printed otherwise)."""
    if exp.sweep.objectives is not None:
        return "parameter importances: not computed for several objectives (their front: pareto.csv)", {}
    done = exp.done
    constant = [k for k in exp.params if done[k].nunique() < 2]
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE or constant:
        return (f"parameter importances: not computed ({len(done)} complete trials; they need at least "
                f"{MIN_TRIALS_FOR_IMPORTANCE} in which every swept parameter took two or more values)"), {}
    try:
        imp = importances(study)
    except (RuntimeError, ValueError) as err:
        return f"parameter importances: not available ({err})", {}
    return ("parameter importances (PED-ANOVA on " + exp.sweep.objective.key + "): " +
            ", ".join(f"{k} {v:.3f}" for k, v in imp.items())), imp
