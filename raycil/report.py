"""``python -m raycil.report EXP_DIR``: tables, plots and the Optuna study of a (finished or
partial) sweep, rebuilt from Tune's per-trial results.

- ``trials.csv`` / ``trials.parquet``: one row per trial x phase (variant, seed, swept params,
  every reported metric, the trial's Tune status);
- ``summary.csv`` / ``summary.md``: one row per variant and parameter setting with the mean and
  the 95% confidence interval over seeds (Student t) of average incremental accuracy, last
  accuracy and forgetting (DESIGN.md terms), and the number of seeds; the markdown lays them out
  like the papers' tables (variants as rows, settings as columns);
- ``optuna.db``: an Optuna study holding every trial (params with their distributions, the
  objective, per-phase intermediate values, user attributes); with ``search: optuna`` it is the
  study the search itself used;
- ``plots/``: accuracy vs phase per variant, and the objective vs each swept hyperparameter with
  confidence bands (as the CIM paper's Figure S3).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from scipy import stats

from raycil.sweep_config import ParamSpec, SweepConfig, plain

SUMMARY = (("avg_inc_acc", "avg. incremental accuracy"), ("last_acc", "last accuracy"),
           ("old_acc", "last old-class accuracy"), ("forgetting", "forgetting"),
           ("avg_imbalance", "avg. imbalance score"))
TUNE_KEYS = {"config", "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date",
             "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "time_since_restore",
             "iterations_since_restore", "should_checkpoint", "experiment_tag"}
ATTRS = ("variant", "seed", "avg_inc_acc", "last_acc", "forgetting")


def optuna_url(exp_dir: Path) -> str:
    return f"sqlite:///{Path(exp_dir).resolve() / 'optuna.db'}"


def trial_attrs(trial_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """An Optuna trial's user attributes: variant, seed, accuracy summary, phases, Tune trial id."""
    out = {key: plain(result.get(key)) for key in ATTRS}
    return {**out, "phases": int(result.get("phase", 0)), "tune_trial_id": trial_id}


def mean_ci(values: Any, confidence: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of the two-sided t-distribution confidence interval, and n (NaN dropped).

    half = t_{(1+c)/2, n-1} * s / sqrt(n) with s the sample standard deviation; NaN for n < 2."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, 0
    if n == 1:
        return float(x[0]), math.nan, 1
    half = stats.t.ppf((1 + confidence) / 2, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return float(x.mean()), float(half), n


# ----------------------------------------------------------------------------- loading

@dataclass
class Experiment:
    """A sweep's saved plan and its trials' results."""

    path: Path
    sweep: SweepConfig
    rows: pd.DataFrame      # one row per trial x phase
    final: pd.DataFrame     # one row per trial: its last phase, status, completeness
    configs: dict[str, dict[str, Any]]
    planned: int = 0        # trials the sweep plans (0: not recorded; those that reported count)

    @property
    def params(self) -> list[str]:
        return list(self.sweep.search_space)

    @property
    def groups(self) -> list[str]:
        return ["variant", *self.params]


def _statuses(exp_dir: Path) -> dict[str, str]:
    from ray.tune import ExperimentAnalysis

    try:
        return {t.trial_id: t.status for t in ExperimentAnalysis(str(exp_dir)).trials}
    except (ValueError, FileNotFoundError, RuntimeError):  # no experiment state written yet
        return {}


def trial_reports(trial_dir: Path) -> list[dict[str, Any]]:
    """One trial's phase reports: its ``phases.json`` (every phase, rewritten by the trial after
    each), else Tune's ``result.json`` (which loses unflushed lines when its driver is killed)."""
    try:
        return json.loads((trial_dir / "phases.json").read_text())
    except (OSError, ValueError):
        pass
    try:
        text = (trial_dir / "result.json").read_text()
    except OSError:
        return []
    reports = []
    for line in text.splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:  # blank, or the last line torn by a kill
            continue
    return [r for r in reports if "phase" in r]


def read_results(exp_dir: Path) -> list[dict[str, Any]]:
    """Every phase report of every trial (:func:`trial_reports`)."""
    return [r for d in sorted(p for p in exp_dir.iterdir() if p.is_dir()) for r in trial_reports(d)]


def experiment_from_results(path: Path, sweep: SweepConfig, results: list[dict[str, Any]],
                            statuses: dict[str, str]) -> Experiment:
    """Rows (trial x phase; a phase reported twice keeps its last report) and per-trial finals."""
    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    configs: dict[str, dict[str, Any]] = {}
    for r in results:
        configs[r["trial_id"]] = r["config"]
        by_key[(r["trial_id"], r["phase"])] = {"trial_id": r["trial_id"],
                                               **{k: v for k, v in r.items() if k not in TUNE_KEYS}}
    if not by_key:
        raise FileNotFoundError(f"{path}: no trial has reported a phase yet")
    # Tune's trial ids end in the expansion index, so this keeps the YAML's variant order
    rows = pd.DataFrame.from_records([by_key[k] for k in sorted(by_key)])
    rows.insert(1, "status", rows["trial_id"].map(lambda t: statuses.get(t, "UNKNOWN")))
    lead = ["trial_id", "status", "variant", "seed", *sweep.search_space, "phase", "phases_total"]
    rows = rows[lead + [c for c in rows.columns if c not in lead]]
    final = rows.groupby("trial_id", sort=False).tail(1).set_index("trial_id")
    final["complete"] = (final["phase"] == final["phases_total"]) & (final["status"] != "ERROR")
    return Experiment(path, sweep, rows, final, configs)


def load_experiment(exp_dir: str | Path) -> Experiment:
    exp_dir = Path(exp_dir).resolve()
    plan_file = exp_dir / "sweep.json"
    if not plan_file.is_file():
        raise FileNotFoundError(f"{exp_dir} is not a sweep directory (no sweep.json)")
    record = json.loads(plan_file.read_text())
    sweep = SweepConfig.model_validate(record["sweep"])
    exp = experiment_from_results(exp_dir, sweep, read_results(exp_dir), _statuses(exp_dir))
    exp.planned = sweep.search.num_samples if sweep.search.kind == "optuna" else len(record.get("trials", []))
    return exp


# ----------------------------------------------------------------------------- summary tables

def summarize(exp: Experiment) -> pd.DataFrame:
    """One row per variant x parameter setting over the complete trials (seeds as samples)."""
    done = exp.final[exp.final["complete"]]
    out = []
    for key, group in done.groupby(exp.groups, sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(exp.groups, key, strict=True))
        for metric, _ in SUMMARY:  # the final phase's row: old_acc is the last phase's
            mean, half, n = mean_ci(group[metric])
            row.update({f"{metric}_mean": mean, f"{metric}_ci95": half})
        row["n_seeds"] = len(group)
        out.append(row)
    columns = [f"{m}_{part}" for m, _ in SUMMARY for part in ("mean", "ci95")]
    return pd.DataFrame(out, columns=[*exp.groups, *columns, "n_seeds"])


def listed_settings(exp: Experiment) -> bool:
    """Every swept parameter takes listed values (grid / choice), so settings repeat across seeds."""
    return all(spec.kind in ("grid", "choice") for spec in exp.sweep.search_space.values())


def paired_differences(exp: Experiment) -> pd.DataFrame:
    """For an ablation (variants, optionally crossed with listed parameter values, e.g. the number
    of phases): every variant's objective minus the first variant's at the same setting, paired
    by seed (a seed fixes data, class order and initialisation, so pairing removes the
    seed-to-seed spread): mean ± 95% t-interval of the differences and the paired t-test p-value
    (scipy), one row per variant after the first and setting."""
    metric = exp.sweep.objective.metric
    done = exp.final[exp.final["complete"]]
    names = list(dict.fromkeys(done["variant"]))
    columns = ["variant", *exp.params, "delta_mean", "delta_ci95", "n_pairs", "p_value"]
    if not listed_settings(exp) or len(names) < 2 or metric not in done:
        return pd.DataFrame(columns=columns)
    settings = done.groupby(exp.params, sort=True, dropna=False) if exp.params else [((), done)]
    rows = []
    for key, part in settings:
        setting = dict(zip(exp.params, key, strict=True))
        by_seed = part.pivot_table(index="seed", columns="variant", values=metric)
        for name in names[1:]:
            if name not in by_seed or names[0] not in by_seed:
                continue
            pairs = by_seed[[names[0], name]].dropna()
            diff = pairs[name] - pairs[names[0]]
            mean, half, n = mean_ci(diff)
            p = math.nan
            if n >= 2 and diff.std() > 0:
                p = float(stats.ttest_rel(pairs[name], pairs[names[0]]).pvalue)
            rows.append({"variant": name, **setting, "delta_mean": mean, "delta_ci95": half, "n_pairs": n,
                         "p_value": p})
    return pd.DataFrame(rows, columns=columns)


def _cell(mean: float, half: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.2f}" if math.isnan(half) else f"{mean:.2f} ± {half:.2f}"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _setting(row: pd.Series, keys: list[str]) -> str:
    return ", ".join(f"{k}={_fmt(row[k])}" for k in keys) if keys else "all"


def _markdown(table: pd.DataFrame) -> str:
    cols = [str(c) for c in table.columns]
    lines = ["| " + " | ".join([str(table.index.name or "")] + cols) + " |",
             "|" + "---|" * (len(cols) + 1)]
    lines += ["| " + " | ".join([str(i)] + [str(v) for v in r]) + " |" for i, r in table.iterrows()]
    return "\n".join(lines)


def summary_markdown(exp: Experiment, summary: pd.DataFrame) -> str:
    """Paper-style tables, cells ``mean ± 95% CI half-width [n seeds]``. With listed settings
    (variants, grid/choice values): one table per metric, variants (or the first swept parameter)
    as rows and the remaining settings as columns; with sampled values: one row per setting."""
    s = exp.sweep
    lines = [f"# {s.name}", "",
             f"Objective: {s.objective.mode} {s.objective.metric}. Cells: mean ± half-width of the 95% "
             f"t-interval over seeds (n seeds in brackets)."]
    skipped = int((~exp.final["complete"]).sum())
    if skipped:
        lines.append(f"{skipped} trial(s) stopped early, failed or unfinished are left out of the tables.")
    if summary.empty:
        return "\n".join([*lines, "", "No trial has finished all its phases yet."])
    several = summary["variant"].nunique() > 1
    keys = [k for k in exp.groups if k != "variant" or several or not exp.params]
    cells = {title: summary.apply(lambda r, m=metric: f"{_cell(r[f'{m}_mean'], r[f'{m}_ci95'])} "
                                  f"[{r['n_seeds']}]", axis=1) for metric, title in SUMMARY}
    if any(spec.kind not in ("grid", "choice") for spec in s.search_space.values()):
        table = pd.DataFrame(cells).set_index(summary.apply(lambda r: _setting(r, keys), axis=1))
        table.index.name = "setting"
        return "\n".join([*lines, "", _markdown(table)])
    row_key, col_keys = keys[0], keys[1:]
    rows = summary[row_key].map(_fmt)
    cols = summary.apply(lambda r: _setting(r, col_keys), axis=1)
    for title, cell in cells.items():
        table = pd.DataFrame({"r": rows, "c": cols, "v": cell}).pivot(index="r", columns="c", values="v")
        table = table.reindex(index=rows.unique(), columns=cols.unique()).fillna("-")
        table.index.name = row_key
        lines += ["", f"## {title}", "", _markdown(table)]
    paired = paired_differences(exp)
    if not paired.empty:
        first = summary["variant"].iloc[0]
        table = paired_table(exp, paired, first)
        lines += ["", f"## difference to {first}, paired by seed", "", _markdown(table)]
    return "\n".join(lines)


def paired_table(exp: Experiment, paired: pd.DataFrame, first: str) -> pd.DataFrame:
    """Variants as rows; without swept parameters the Δ and p columns, with them one column per
    setting whose cells read ``Δ ± CI [pairs] p=…``."""
    deltas = [f"{_cell(m, h)} [{n}]" for m, h, n in
              zip(paired["delta_mean"], paired["delta_ci95"], paired["n_pairs"], strict=True)]
    pvalues = [_fmt(p) for p in paired["p_value"]]
    if not exp.params:
        title = f"Δ {exp.sweep.objective.metric} vs {first}"
        table = pd.DataFrame({title: deltas, "paired t-test p": pvalues}, index=paired["variant"])
    else:
        cells = pd.DataFrame({"variant": paired["variant"],
                              "setting": paired.apply(lambda r: _setting(r, exp.params), axis=1),
                              "cell": [f"{d} p={p}" for d, p in zip(deltas, pvalues, strict=True)]})
        table = cells.pivot(index="variant", columns="setting", values="cell")
        table = table.reindex(index=cells["variant"].unique(), columns=cells["setting"].unique())
    table.index.name = "variant"
    return table


# ----------------------------------------------------------------------------- Optuna

def _distribution(spec: ParamSpec) -> optuna.distributions.BaseDistribution:
    if spec.kind in ("grid", "choice"):
        return optuna.distributions.CategoricalDistribution(spec.args)
    from ray.tune.search.optuna import OptunaSearch

    return OptunaSearch.convert_search_space({"p": spec.domain()})["p"]


def _frozen_trial(exp: Experiment, trial_id: str, dists: dict[str, Any]) -> optuna.trial.FrozenTrial:
    final, metric = exp.final.loc[trial_id], exp.sweep.objective.metric
    phases = exp.rows[exp.rows["trial_id"] == trial_id]
    inter = {int(p): float(v) for p, v in zip(phases["phase"], phases[metric], strict=True)
             if not math.isnan(v)}
    value = float(final[metric])
    S = optuna.trial.TrialState
    if final["complete"] and not math.isnan(value):
        state = S.COMPLETE
    elif final["status"] == "TERMINATED":
        state, value = S.PRUNED, math.nan  # stopped early by the scheduler
    elif final["status"] == "ERROR":
        state, value = S.FAIL, math.nan
    else:
        state, value = S.RUNNING, math.nan  # a partial sweep: resumable
    config = exp.configs[trial_id]
    return optuna.trial.create_trial(
        state=state, value=None if math.isnan(value) else value,
        params={k: config[k] for k in dists}, distributions=dists, intermediate_values=inter,
        user_attrs=trial_attrs(trial_id, final.to_dict()))


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
                                direction="maximize" if s.objective.mode == "max" else "minimize")
    dists = {k: _distribution(spec) for k, spec in s.search_space.items()}
    if len(s.variants) > 1:
        dists["variant"] = optuna.distributions.CategoricalDistribution(list(s.variants))
    study.add_trials([_frozen_trial(exp, t, dists) for t in exp.final.index])
    return study


def importances(study: optuna.Study) -> dict[str, float]:
    """PED-ANOVA parameter importances over the complete trials (Optuna's own evaluator; fANOVA
    would need scikit-learn)."""
    from optuna.importance import PedAnovaImportanceEvaluator

    return optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())


# ----------------------------------------------------------------------------- plots

def _band(ax: Any, x: list[Any], groups: list[pd.Series], label: str) -> None:
    stats_ = [mean_ci(g) for g in groups]
    mean = np.array([m for m, _, _ in stats_])
    half = np.nan_to_num(np.array([h for _, h, _ in stats_]))
    ax.plot(x, mean, marker="o", label=label)
    ax.fill_between(x, mean - half, mean + half, alpha=0.2)


def plot_phases(exp: Experiment, out: Path, max_lines: int = 10, max_panels: int = 4) -> Path:
    """Top-1 accuracy vs phase, one line (mean, 95% CI band over seeds) per variant x setting.
    With more than ``max_lines`` of them: one panel per setting of listed parameters (e.g. the
    number of phases, which must not be averaged together), one line per variant in each; or,
    with sampled values, one line per variant."""
    import matplotlib.pyplot as plt

    done = exp.rows[exp.rows["trial_id"].isin(exp.final.index[exp.final["complete"]])]
    panels: list[tuple[str, pd.DataFrame]] = [("", done)]
    groups = exp.groups
    if len(done.groupby(exp.groups)) > max_lines:  # else unreadable
        groups = ["variant"]
        if exp.params and listed_settings(exp) and done.groupby(exp.params).ngroups <= max_panels:
            panels = [(_setting(part.iloc[0], exp.params), part)
                      for _, part in done.groupby(exp.params, sort=True)]
    keys = [k for k in groups if k != "variant" or done["variant"].nunique() > 1]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (title, rows) in zip(axes[0], panels, strict=True):
        for _, group in rows.groupby(groups, sort=False, dropna=False):
            phases = sorted(group["phase"].unique())
            label = _setting(group.iloc[0], keys) if keys else str(group["variant"].iloc[0])
            _band(ax, phases, [group.loc[group["phase"] == p, "top1"] for p in phases], label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("phase")
        ax.set_ylabel("top-1 accuracy on seen classes (%)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "accuracy_vs_phase.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_param(exp: Experiment, key: str, out: Path, max_bins: int = 8) -> Path:
    """The objective vs one swept hyperparameter (mean and 95% CI band over the trials at each
    value, one line per variant); many distinct sampled values are grouped in quantile bins."""
    import matplotlib.pyplot as plt

    metric, spec = exp.sweep.objective.metric, exp.sweep.search_space[key]
    done = exp.final[exp.final["complete"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    numeric = pd.api.types.is_numeric_dtype(done[key])
    for variant, group in done.groupby("variant", sort=False):
        values = group[key]
        if numeric and values.nunique() > max_bins:
            bins = pd.qcut(values, max_bins, duplicates="drop")
            parts = [g for _, g in group.groupby(bins, observed=True)]
            x = [float(g[key].median()) for g in parts]
        else:
            parts = [g for _, g in group.groupby(key, sort=True)]
            x = [g[key].iloc[0] if numeric else str(g[key].iloc[0]) for g in parts]
        _band(ax, x, [g[metric] for g in parts], str(variant))
    if spec.kind in ("loguniform", "qloguniform", "lograndint"):
        ax.set_xscale("log")
    ax.set_xlabel(key)
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / f"objective_vs_{key}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- build

@dataclass
class Report:
    experiment: Experiment
    summary: pd.DataFrame
    study: optuna.Study
    importances: dict[str, float]
    files: list[Path]
    text: str


# PED-ANOVA compares the best 10% of the complete trials with all of them: below ten there is
# not one trial in that top decile, and a parameter that took one value cannot matter
MIN_TRIALS_FOR_IMPORTANCE = 10


def counts(exp: Experiment) -> dict[str, int]:
    """The planned trials by outcome: complete, stopped early (by the scheduler), failed,
    unfinished (started, resumable) and not started."""
    final = exp.final
    complete = int(final["complete"].sum())
    stopped = int(((final["status"] == "TERMINATED") & ~final["complete"]).sum())
    failed = int((final["status"] == "ERROR").sum())
    planned = max(exp.planned, len(final))
    return {"planned": planned, "complete": complete, "stopped early": stopped, "failed": failed,
            "unfinished": len(final) - complete - stopped - failed, "not started": planned - len(final)}


def _counts_line(n: dict[str, int]) -> str:
    parts = [f"{v} {k}" for k, v in n.items() if k != "planned" and (v or k in ("complete", "failed"))]
    return f"{n['planned']} planned trials: " + ", ".join(parts)


def importance_line(exp: Experiment, study: optuna.Study) -> tuple[str, dict[str, float]]:
    """PED-ANOVA importances, computed only from ``MIN_TRIALS_FOR_IMPORTANCE`` complete trials
    among which every swept parameter took at least two values (the rule is printed otherwise)."""
    done = exp.final[exp.final["complete"]]
    constant = [k for k in exp.params if done[k].nunique() < 2]
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE or constant:
        return (f"parameter importances: not computed ({len(done)} complete trials; they need at least "
                f"{MIN_TRIALS_FOR_IMPORTANCE} in which every swept parameter took two or more values)"), {}
    try:
        imp = importances(study)
    except (RuntimeError, ValueError) as err:
        return f"parameter importances: not available ({err})", {}
    return ("parameter importances (PED-ANOVA on " + exp.sweep.objective.metric + "): " +
            ", ".join(f"{k} {v:.3f}" for k, v in imp.items())), imp


def build(exp_dir: str | Path) -> Report:
    """Rebuild every output of a sweep directory and return them with a printable summary."""
    import matplotlib

    matplotlib.use("Agg")
    exp = load_experiment(exp_dir)
    path = exp.path
    exp.rows.to_csv(path / "trials.csv", index=False)
    exp.rows.to_parquet(path / "trials.parquet", index=False)
    summary = summarize(exp)
    summary.to_csv(path / "summary.csv", index=False)
    md = summary_markdown(exp, summary)
    (path / "summary.md").write_text(md + "\n")
    study = export_optuna(exp)
    imp: dict[str, float] = {}
    lines = [f"{path}: {_counts_line(counts(exp))}", "", md, ""]
    if exp.params:
        line, imp = importance_line(exp, study)
        lines.append(line)
    plots = path / "plots"
    plots.mkdir(exist_ok=True)
    files = [path / n for n in ("trials.csv", "trials.parquet", "summary.csv", "summary.md", "optuna.db")]
    if not summary.empty:
        files.append(plot_phases(exp, plots))
        files += [plot_param(exp, key, plots) for key in exp.params]
    lines.append("wrote " + ", ".join(str(f.relative_to(path)) for f in files))
    return Report(exp, summary, study, imp, files, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raycil.report", description=__doc__.splitlines()[0])
    parser.add_argument("exp_dir", help="a sweep's output directory (storage_path/name)")
    args = parser.parse_args(argv)
    try:
        print(build(args.exp_dir).text)
    except FileNotFoundError as err:
        print(f"raycil.report: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
