"""Sweep reports from per-phase results (in the shape Tune writes them): the t-based 95% CI
against scipy, the summary and its paper-style layout, the Optuna export (states,
distributions, no duplicates), and ``python -m raycil.report`` on a directory. No Ray here."""

from __future__ import annotations

import base64
import datetime
import json
import math
import re
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from raycil import report
from raycil.sweep.settings import SweepConfig


def sweep_config(**sections) -> SweepConfig:
    return SweepConfig.model_validate({"name": "rep", "variants": {"a": {}, "b": {}},
                                       "search_space": {"train.lr": [0.05, 0.1]}, "seeds": [0, 1, 2],
                                       **sections})


T0 = 1_760_000_000  # Tune's clock in the made-up results: phase i ends at T0 + 100 i after 90 s


def results_of(trial_id: str, config: dict, accs: list[float], total: int) -> list[dict]:
    """Tune-shaped result lines of one trial (running summary as ``raycil.sweep.trial`` reports it)."""
    out = []
    for i, acc in enumerate(accs):
        seen = accs[: i + 1]
        out.append({"trial_id": trial_id, "config": config, "training_iteration": i + 1, "done": False,
                    "timestamp": T0 + 100 * (i + 1), "time_this_iter_s": 90.0,
                    **config, "phase": i + 1, "phases_total": total, "top1": acc, "first_acc": 90.0 - 10 * i,
                    "avg_inc_acc": float(np.mean(seen)), "last_acc": acc, "forgetting": 10.0 * i,
                    "avg_imbalance": math.nan if i == 0 else 20.0,
                    "old_acc": math.nan if i == 0 else acc - 5,
                    # the validation counterparts, 1 point below (the objective ranks on them)
                    "val_top1": acc - 1, "val_avg_inc_acc": float(np.mean(seen)) - 1})
    return out


def grid_experiment(tmp_path: Path, statuses: dict[str, str] | None = None,
                    short: dict[str, int] | None = None) -> report.Experiment:
    """2 variants x 2 lr x 3 seeds, 3 phases; the ``short`` trials reported only their first phases
    (by default 'a-0.1-2', stopped after phase 1)."""
    short = short or {"a-0.1-2": 1}
    results = []
    for v in ("a", "b"):
        for lr in (0.05, 0.1):
            for seed in (0, 1, 2):
                accs = [80.0 + seed + 10 * lr, 60.0 + 2 * seed + (5 if v == "b" else 0), 40.0 + seed * lr]
                trial = f"{v}-{lr}-{seed}"
                results += results_of(trial, {"variant": v, "seed": seed, "train.lr": lr},
                                      accs[: short.get(trial, 3)], 3)
    statuses = statuses or {"a-0.1-2": "TERMINATED"}
    return report.experiment_from_results(tmp_path, sweep_config(), results, statuses)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=12))
def test_mean_ci_matches_scipy_t_interval(values):
    mean, half, n = report.mean_ci(values)
    assert n == len(values) and mean == pytest.approx(np.mean(values), abs=1e-9)
    sd = np.std(values, ddof=1)
    if sd > 1e-9:
        low, high = stats.t.interval(0.95, n - 1, loc=np.mean(values), scale=stats.sem(values))
        assert half == pytest.approx((high - low) / 2, rel=1e-9)


def test_mean_ci_edge_cases():
    assert report.mean_ci([])[2] == 0
    mean, half, n = report.mean_ci([3.0, math.nan])
    assert (mean, n) == (3.0, 1) and math.isnan(half)
    assert report.mean_ci([1.0, 2.0, 3.0])[1] == pytest.approx(stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3))


def test_rows_keep_one_report_per_phase_and_trials_complete_or_not(tmp_path):
    first = results_of("t", {"variant": "a", "seed": 0, "train.lr": 0.1}, [50.0, 40.0], 3)
    again = results_of("t", {"variant": "a", "seed": 0, "train.lr": 0.1}, [50.0, 41.0, 30.0], 3)
    exp = report.experiment_from_results(tmp_path, sweep_config(), first + again[1:], {})
    assert exp.rows["phase"].tolist() == [1, 2, 3] and exp.rows["top1"].tolist() == [50.0, 41.0, 30.0]
    assert list(exp.rows.columns[:8]) == ["trial_id", "status", "variant", "seed", "train.lr", "phase",
                                          "phases_total", "top1"]
    assert bool(exp.final.loc["t", "complete"])


def test_summary_rows_ci_and_paper_layout(tmp_path):
    exp = grid_experiment(tmp_path)
    summary = report.summarize(exp)
    assert len(summary) == 4
    row = summary[(summary["variant"] == "b") & (summary["train.lr"] == 0.1)].iloc[0]
    finals = [np.mean([80.0 + s + 1.0, 60.0 + 2 * s + 5, 40.0 + s * 0.1]) for s in (0, 1, 2)]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(finals), scale=stats.sem(finals))
    assert row["avg_inc_acc_mean"] == pytest.approx(np.mean(finals))
    assert row["avg_inc_acc_ci95"] == pytest.approx((high - low) / 2)
    assert row["n_seeds"] == 3
    assert row["old_acc_mean"] == pytest.approx(np.mean([35.0 + s * 0.1 for s in (0, 1, 2)]))  # last phase
    stopped = summary[(summary["variant"] == "a") & (summary["train.lr"] == 0.1)].iloc[0]
    assert stopped["n_seeds"] == 2  # the trial stopped early is left out
    md = report.summary_markdown(exp, summary)
    assert "| variant | train.lr=0.05 | train.lr=0.1 |" in md
    assert "## avg. incremental accuracy" in md and "## forgetting" in md
    assert "## last old-class accuracy" in md
    assert "1 trial(s) stopped early" in md
    b = summary.iloc[2]
    assert f"| b | {report.tables.cell(b['avg_inc_acc_mean'], b['avg_inc_acc_ci95'])} [3]" in md


def test_optuna_export_states_distributions_and_no_duplicates(tmp_path):
    statuses = {"a-0.1-2": "TERMINATED", "b-0.1-2": "ERROR", "b-0.05-2": "RUNNING"}
    exp = grid_experiment(tmp_path, statuses, short={"a-0.1-2": 1, "b-0.05-2": 2})
    for _ in range(2):
        study = report.export_optuna(exp)
    study = optuna.load_study(study_name="rep", storage=report.optuna_url(tmp_path))
    assert len(study.trials) == 12
    by_id = {t.user_attrs["tune_trial_id"]: t for t in study.trials}
    S = optuna.trial.TrialState
    assert by_id["a-0.1-2"].state == S.PRUNED and by_id["a-0.1-2"].intermediate_values.keys() == {1}
    assert by_id["b-0.05-2"].state == S.RUNNING and by_id["a-0.05-0"].state == S.COMPLETE
    # an errored trial's phases were all reported here, but its Tune status says it failed
    assert by_id["b-0.1-2"].state == S.FAIL
    t = by_id["b-0.05-1"]
    assert t.params == {"train.lr": 0.05, "variant": "b"} and t.value == pytest.approx(
        np.mean([81.0 + 0.5, 67.0, 40.05]) - 1)  # the validation score
    # listed numbers are an ordered (numeric) distribution over their range, not labels
    assert t.distributions["train.lr"] == optuna.distributions.FloatDistribution(0.05, 0.1)
    assert t.distributions["variant"] == optuna.distributions.CategoricalDistribution(["a", "b"])
    assert t.user_attrs["seed"] == 1 and sorted(t.intermediate_values) == [1, 2, 3]
    # the trial's times are Tune's: its first phase's start and its last phase's end
    assert t.datetime_start == datetime.datetime.fromtimestamp(T0 + 100 - 90)
    assert t.datetime_complete == datetime.datetime.fromtimestamp(T0 + 300)
    assert by_id["b-0.05-2"].datetime_complete is None  # still running


@pytest.mark.parametrize(("values", "expected"), [
    ([2, 4, 8], optuna.distributions.IntDistribution(2, 8)),
    ([0.5, 1, 2.0], optuna.distributions.FloatDistribution(0.5, 2.0)),
    (["herding", "random"], optuna.distributions.CategoricalDistribution(["herding", "random"])),
    ([True, False], optuna.distributions.CategoricalDistribution([True, False])),
])
def test_listed_values_get_numeric_distributions_when_numbers(values, expected):
    from raycil.report.study import distribution
    from raycil.sweep.settings import ParamSpec

    assert distribution(ParamSpec.model_validate({"choice": values})) == expected
    assert distribution(ParamSpec.model_validate(values)) == expected


def test_optuna_export_of_sampled_params_uses_their_distributions(tmp_path):
    space = {"train.lr": {"loguniform": [0.01, 0.2]}}
    sweep = SweepConfig.model_validate({"name": "rnd", "search_space": space, "search": {"kind": "random"}})
    results = results_of("x", {"variant": "base", "seed": 0, "train.lr": 0.03}, [50.0, 40.0], 2)
    study = report.export_optuna(report.experiment_from_results(tmp_path, sweep, results, {}))
    expected = optuna.distributions.FloatDistribution(0.01, 0.2, log=True)
    assert study.trials[0].distributions["train.lr"] == expected


def test_report_cli_rebuilds_outputs_from_a_directory(tmp_path, capsys):
    exp = tmp_path / "exp"
    sweep = sweep_config()
    (exp / "trial_x").mkdir(parents=True)
    (exp / "sweep.json").write_text(json.dumps({"sweep": sweep.model_dump(mode="json")}))
    lines = []
    for seed in (0, 1):
        for v in ("a", "b"):
            config = {"variant": v, "seed": seed, "train.lr": 0.05}
            lines += results_of(f"{v}{seed}", config, [70.0 + seed, 50.0], 2)
    (exp / "trial_x" / "result.json").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert report.main([str(exp)]) == 0
    out = capsys.readouterr().out
    assert "4 planned trials: 4 complete, 0 failed" in out
    assert "parameter importances: not computed (4 complete trials; they need at least 10" in out
    for name in ("trials.csv", "trials.parquet", "summary.csv", "summary.md", "optuna.db", "report.html"):
        assert (exp / name).is_file()
    assert len(pd.read_csv(exp / "trials.csv")) == 8
    assert "suspicious seeds: none" in out
    # report.html stands alone: every plot inside it as a data URI, nothing fetched from elsewhere
    page = (exp / "report.html").read_text()
    pngs = sorted((exp / "plots").glob("*.png"))
    assert pngs and all(p.with_suffix(".svg").is_file() for p in pngs)
    assert all(base64.b64encode(p.read_bytes()).decode() in page for p in pngs)
    assert all(link.startswith("data:") for link in re.findall(r'(?:src|href)="([^"]*)"', page))
    assert "<table" in page and "avg. incremental accuracy" in page and "suspicious seeds" in page
    assert report.main([str(tmp_path)]) == 2


@pytest.mark.parametrize("seeds, computed", [(5, True), (4, False)])
def test_importances_need_ten_complete_trials_over_two_values(tmp_path, seeds, computed):
    sweep = SweepConfig.model_validate({"name": "imp", "search_space": {"train.lr": [0.05, 0.1]},
                                        "seeds": list(range(seeds))})
    results = []
    for seed in range(seeds):
        for lr in (0.05, 0.1):
            config = {"variant": "base", "seed": seed, "train.lr": lr}
            results += results_of(f"t{lr}-{seed}", config, [60.0 + 100 * lr + seed, 40.0], 2)
    exp = report.experiment_from_results(tmp_path, sweep, results, {})
    line, imp = report.importance_line(exp, report.export_optuna(exp))
    assert bool(imp) == computed and ("train.lr" in imp) == computed
    assert line.startswith("parameter importances (PED-ANOVA" if computed else
                           f"parameter importances: not computed ({2 * seeds} complete trials")


def test_counts_name_the_planned_trials_not_started(tmp_path):
    exp = grid_experiment(tmp_path)
    exp.planned = 15
    n = report.counts(exp)
    assert n == {"planned": 15, "complete": 11, "stopped early": 1, "failed": 0, "unfinished": 0,
                 "not started": 3}


def test_paired_differences_to_the_first_variant_match_scipy(tmp_path):
    results = []
    base = {0: 50.0, 1: 58.0, 2: 61.0}
    gain = {0: 4.0, 1: 2.5, 2: 3.0}
    for v in ("base", "plus"):
        for seed in (0, 1, 2):
            acc = base[seed] + (gain[seed] if v == "plus" else 0.0)
            results += results_of(f"{v}-{seed}", {"variant": v, "seed": seed, "train.lr": 0.1}, [acc], 1)
    sweep = SweepConfig.model_validate({"name": "abl", "variants": {"base": {}, "plus": {}},
                                        "seeds": [0, 1, 2]})
    exp = report.experiment_from_results(tmp_path, sweep, results, {})
    paired = report.paired_differences(exp).set_index("variant")
    diffs = list(gain.values())
    low, high = stats.t.interval(0.95, 2, loc=np.mean(diffs), scale=stats.sem(diffs))
    assert paired.loc["plus", "delta_mean"] == pytest.approx(np.mean(diffs))
    assert paired.loc["plus", "delta_ci95"] == pytest.approx((high - low) / 2)
    plus = [base[s] + gain[s] for s in (0, 1, 2)]
    assert paired.loc["plus", "p_value"] == pytest.approx(stats.ttest_rel(plus, list(base.values())).pvalue)
    assert "## difference to base, paired by seed" in report.summary_markdown(exp, report.summarize(exp))


def test_paired_differences_within_each_listed_setting(tmp_path):
    """Variants crossed with a grid (e.g. the number of phases): pairs by seed within a setting."""
    results = []
    for phases, gain in ((5, 1.0), (10, 3.0)):
        for seed in (0, 1, 2):
            for v in ("base", "plus"):
                acc = 50.0 + seed + phases + (gain + 0.1 * seed if v == "plus" else 0.0)
                config = {"variant": v, "seed": seed, "protocol.num_phases": phases}
                results += results_of(f"{v}-{phases}-{seed}", config, [acc], 1)
    sweep = SweepConfig.model_validate({"name": "abl", "variants": {"base": {}, "plus": {}},
                                        "seeds": [0, 1, 2], "search_space": {"protocol.num_phases": [5, 10]}})
    exp = report.experiment_from_results(tmp_path, sweep, results, {})
    paired = report.paired_differences(exp).set_index("protocol.num_phases")
    assert paired.loc[5, "delta_mean"] == pytest.approx(1.1)
    assert paired.loc[10, "delta_mean"] == pytest.approx(3.1)
    assert (paired["n_pairs"] == 3).all() and (paired["variant"] == "plus").all()
    text = report.summary_markdown(exp, report.summarize(exp))
    assert "| plus | 1.10 ± 0.25 [3] p=" in text and "protocol.num_phases=10" in text


def flag_experiment(tmp_path: Path, finals: dict[tuple[str, int], list[float]]) -> report.Experiment:
    """Variants x seeds with the given per-phase accuracies; 5 new classes per phase."""
    results = []
    for (v, seed), accs in finals.items():
        lines = results_of(f"{v}-{seed}", {"variant": v, "seed": seed}, accs, len(accs))
        results += [{**line, "classes": 5 * line["phase"]} for line in lines]
    sweep = SweepConfig.model_validate({"name": "flags", "variants": {"a": {}, "b": {}},
                                        "seeds": sorted({s for _, s in finals})})
    return report.experiment_from_results(tmp_path, sweep, results, {})


def test_a_collapsed_seed_and_one_at_chance_are_flagged_and_kept_in_the_means(tmp_path):
    finals = {(v, s): [80.0 + s, 60.0 + s, 50.0 - s] for v in ("a", "b") for s in range(5)}
    finals[("b", 3)] = [80.0, 40.0, 25.0]       # collapsed: far below the other four seeds of b
    finals[("a", 4)] = [80.0, 60.0, 9.0]        # at chance: 15 classes seen, chance 6.67%, 1.5x = 10%
    exp = flag_experiment(tmp_path, finals)
    flagged = report.suspicious_seeds(exp).set_index("trial_id")
    assert set(flagged.index) == {"b-3", "a-4"}
    assert "robust SDs from its row's median" in flagged.at["b-3", "reason"]
    assert "at chance level" in flagged.at["a-4", "reason"]
    summary = report.summarize(exp)
    assert (summary["n_seeds"] == 5).all()      # kept in the means
    md = report.summary_markdown(exp, summary, report.suspicious_seeds(exp))
    assert "| 5 | 1 |\n" in md and "## suspicious seeds" in md  # seeds, flagged columns
    from raycil.report.tables import flags_line

    line = flags_line(exp, report.suspicious_seeds(exp))
    assert line.startswith("suspicious seeds: 2 of 10 complete trials (2 far from their row's median, "
                           "1 at chance level)") and "b seed 3" in line and "a seed 4" in line
    assert "and 1 more" in flags_line(exp, report.suspicious_seeds(exp), listed=1)


def test_seeds_a_few_points_apart_are_not_flagged(tmp_path):
    # seeds agreeing to a tenth make the MAD tiny; the floor keeps a 2-point seed unflagged
    finals = {(v, s): [80.0, 60.0, 50.0 + 0.1 * s] for v in ("a", "b") for s in range(4)}
    finals[("a", 3)] = [80.0, 60.0, 56.0]
    assert report.suspicious_seeds(flag_experiment(tmp_path, finals)).empty
