"""Several objectives: the bytes kept between phases, Optuna's multi-objective study, and the
Pareto front of a sweep with its CIs over seeds."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import yaml
from smoke_helpers import smoke_config
from sweep_helpers import TINY
from test_report_plots import experiment

from raycil import report
from raycil.report.pareto import dominated, pareto_table
from raycil.run import run_experiment
from raycil.schema import ConfigError
from raycil.sweep.plan import plan_sweep
from raycil.sweep.tuner import run_sweep

TWO = [{"metric": "avg_inc_acc", "mode": "max"}, {"metric": "peak_bytes_kept", "mode": "min"}]


def test_dominated_points_are_those_another_beats_in_one_objective_and_ties_in_the_rest():
    points = np.array([[80.0, 10.0], [70.0, 5.0], [60.0, 6.0], [80.0, 12.0], [np.nan, 1.0]])
    better = np.array([1.0, -1.0])  # accuracy up, bytes down
    assert dominated(points, better).tolist() == [False, False, True, True, True]


def test_bytes_kept_counts_exemplars_and_the_network_alike_and_grow_with_ders_backbones():
    phases = run_experiment(smoke_config(method={"name": "der"}), None, verbose=False)["phases"]
    for p in phases:
        assert p["bytes_kept"] == p["memory_bytes"] + p["network_bytes"]
    assert phases[1]["network_bytes"] > phases[0]["network_bytes"]  # a frozen backbone per phase
    finetune = run_experiment(smoke_config(), None, verbose=False)
    assert finetune["summary"]["peak_bytes_kept"] == max(p["bytes_kept"] for p in finetune["phases"])


def test_the_front_is_chosen_on_the_ranked_means_over_seeds(tmp_path):
    trials = [({"variant": v, "seed": s, "memory.budget": b}, (2, 4), level + s)
              for v, level in (("raw", 50.0), ("cim", 60.0)) for b in (20, 40) for s in (0, 1, 2)]
    exp = experiment(tmp_path, trials, space={"memory.budget": [20, 40]}, objectives=TWO)
    cost = {("raw", 20): 1.0, ("raw", 40): 2.0, ("cim", 20): 3.0, ("cim", 40): 2.5}
    for frame in (exp.rows, exp.final):
        frame["peak_bytes_kept"] = [cost[(v, b)] for v, b in zip(frame["variant"], frame["memory.budget"],
                                                                strict=True)]
    table = pareto_table(exp)
    front = {(r["variant"], r["memory.budget"]) for _, r in table[table["on_front"]].iterrows()}
    # the budget leaves accuracy as it is here: at equal accuracy the cheaper budget dominates
    assert front == {("raw", 20), ("cim", 40)}
    row = table[(table["variant"] == "cim") & (table["memory.budget"] == 40)].iloc[0]
    assert row["n_seeds"] == 3 and row["val_avg_inc_acc_ci95"] > 0


def test_several_objectives_are_refused_with_asha_and_with_tuning(tmp_path):
    doc = {"name": "mo", "experiment": TINY, "search_space": {"memory.budget": [4, 8]}, "objectives": TWO,
           "scheduler": {"kind": "asha"}}
    path = tmp_path / "mo.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="objectives: ASHA stops trials on one metric"):
        plan_sweep(path)
    with pytest.raises(ConfigError, match="objectives: a tuning sweep chooses one setting"):
        plan_sweep(path, overrides=["scheduler.kind=fifo", "tuning={}"])


@pytest.mark.slow
def test_an_optuna_multi_objective_sweep_keeps_both_values_and_writes_its_front(tmp_path, ray_local):
    doc = {"name": "mo", "experiment": TINY, "storage_path": str(tmp_path / "runs"), "resources": {"cpu": 1},
           "search_space": {"memory.budget": {"randint": [2, 20]}}, "objectives": TWO,
           "search": {"kind": "optuna", "num_samples": 2, "seed": 0}}
    path = tmp_path / "mo.yaml"
    path.write_text(yaml.safe_dump(doc))
    plan = plan_sweep(path)
    assert all(r.error is None for r in run_sweep(plan))
    exp_dir = plan.exp_dir
    study = optuna.load_study(study_name="mo", storage=report.optuna_url(exp_dir))
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 2 and all(len(t.values) == 2 for t in done)
    final = report.load_experiment(exp_dir).done
    assert sorted(t.values[1] for t in done) == sorted(final["peak_bytes_kept"])
    front = report.build(exp_dir)
    assert (exp_dir / "pareto.csv").is_file() and (exp_dir / "plots" / "pareto.png").is_file()
    assert "Pareto front (max val_avg_inc_acc, min peak_bytes_kept" in front.text
