"""Tuning without peeking: the objective's split, the protocols' stages and choices, the
protocols table, and a tuning sweep that resumes after its driver is killed in stage 2."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sweep_helpers import TINY, result_lines
from test_sweep_recovery import driver_env, finish, start_driver, trial_dirs, wait_for

from raycil.report import cli as report_cli
from raycil.report.plots import best_setting as plotted_best
from raycil.report.protocols import protocols_table
from raycil.schema import ConfigError
from raycil.sweep import cli as sweep_cli
from raycil.sweep.plan import plan_sweep
from raycil.sweep.protocols import best_setting, plan_tuning, ranking_key
from raycil.sweep.settings import SweepConfig

# planted: lr 0.1 is best on test, lr 0.01 on validation (the two rankings disagree)
PLANTED = pd.DataFrame({"train.lr": [0.01, 0.01, 0.1, 0.1], "seed": [0, 1, 0, 1],
                        "avg_inc_acc": [50.0, 52.0, 60.0, 58.0], "val_avg_inc_acc": [70.0, 72.0, 61.0, 63.0]})


def tuning_file(tmp_path: Path, **tuning) -> Path:
    doc = {"name": "tune", "experiment": TINY, "storage_path": str(tmp_path / "runs"),
           "resources": {"cpu": 1}, "search_space": {"train.lr": [0.01, 0.2]}, "seeds": [0, 1],
           "tuning": tuning}
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_split_val_chooses_the_validation_best_and_the_oracle_the_test_best():
    sweep = SweepConfig.model_validate({"search_space": {"train.lr": [0.01, 0.1]}})
    assert sweep.objective.split == "val" and sweep.objective.key == "val_avg_inc_acc"
    chosen = {p: best_setting(PLANTED, ["train.lr"], ranking_key(sweep, p), "max")[0]
              for p in ("end_of_training", "oracle")}
    assert chosen == {"end_of_training": {"train.lr": 0.01}, "oracle": {"train.lr": 0.1}}
    oracle = SweepConfig.model_validate({"search_space": {"train.lr": [0.01, 0.1]},
                                         "objective": {"split": "test"}})
    assert oracle.objective.key == "avg_inc_acc" and "oracle" in oracle.objective.label()


def test_a_sweeps_plotted_best_setting_is_the_validation_best(tmp_path):
    from test_report_plots import experiment

    trials = [({"variant": "a", "seed": 0, "train.lr": lr}, (2, 4), level) for lr, level in ((0.01, 50.0),
                                                                                          (0.1, 60.0))]
    exp = experiment(tmp_path, trials, space={"train.lr": [0.01, 0.1]})
    exp.rows.loc[exp.rows["train.lr"] == 0.01, "val_avg_inc_acc"] += 30  # validation prefers 0.01
    exp.final.loc[exp.final["train.lr"] == 0.01, "val_avg_inc_acc"] += 30
    assert plotted_best(exp, exp.rows, ["train.lr"])["train.lr"].unique().tolist() == [0.01]


def test_stage_one_sub_sweeps_follow_what_each_protocol_may_see(tmp_path):
    path = tuning_file(tmp_path, protocols=["oracle", "end_of_training", "first_phases", "disjoint_classes"])
    main = plan_sweep(path)
    tp = plan_tuning(main, None, {})
    names = [s.name for s in tp.stages]
    assert names == ["stage1-full", "stage1-first_phases", "stage1-disjoint_classes"]
    full, first, disjoint = tp.stages
    assert full.protocols == ["oracle", "end_of_training"] and full.full_runs
    cfg = first.plan.experiment_config(first.plan.trials[0])
    assert cfg.protocol.stop_after == 1 and first.plan.trial_phases == [1, 1, 1, 1]
    assert disjoint.plan.experiment_config(disjoint.plan.trials[0]).dataset.class_offset == 4
    assert all(s.plan.exp_dir.parent == main.exp_dir for s in tp.stages)
    # under ASHA the rungs rank on the protocol's split: the oracle and end_of_training search apart
    asha = plan_tuning(plan_sweep(path, overrides=["scheduler.kind=asha", "scheduler.grace_period=1"]), None,
                       {"scheduler.kind": "asha", "scheduler.grace_period": 1})
    assert [s.plan.sweep.objective.split for s in asha.stages[:2]] == ["test", "val"]
    # other tuning seeds: the oracle still chooses on the evaluation seeds
    apart = plan_tuning(plan_sweep(tuning_file(tmp_path, protocols=["oracle", "end_of_training"], seeds=[9])),
                        None, {})
    assert [(s.name, s.plan.sweep.seeds) for s in apart.stages] == [("stage1-oracle", [0, 1]),
                                                                   ("stage1-end_of_training", [9])]


def test_a_bad_tuning_section_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    path = tuning_file(tmp_path, protocols=["oracle", "per_task"])
    assert sweep_cli.main([str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tuning.protocols" in err[0] and "end_of_training" in err[0], err
    assert not (tmp_path / "runs").exists()


def test_bad_tuning_sections_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="tuning: the protocols choose among settings; give a search_space"):
        plan_sweep(tuning_file(tmp_path, protocols=["oracle"]), overrides={"search_space": {}})
    with pytest.raises(ConfigError, match="protocols must be distinct"):
        plan_sweep(tuning_file(tmp_path, protocols=["oracle", "oracle"]))
    with pytest.raises(ConfigError, match="stop_after: 3 exceeds the protocol's 2 phases"):
        plan_tuning(plan_sweep(tuning_file(tmp_path, protocols=["first_phases"], first_phases=3)), None, {})
    path = tuning_file(tmp_path, protocols=["oracle"])
    no_val = ["dataset.val_fraction=0", "tuning=null"]
    with pytest.raises(ConfigError, match="objective.split: val ranks on the validation split, but "
                                          "dataset.val_fraction is 0"):
        plan_sweep(path, overrides=no_val)
    assert plan_sweep(path, overrides=[*no_val, "objective.split=test"]).sweep.objective.key == "avg_inc_acc"


@pytest.mark.slow
def test_a_tuning_sweep_resumes_stage_two_after_a_driver_kill_without_redoing_a_trial(tmp_path, ray_address):
    """first_phases (k = 1) tunes on seed 5; stage 2 runs the chosen setting on the evaluation seeds
    0 and 1, one trial at a time. The driver is killed while stage 2's second trial runs; the
    resumed sweep keeps every stage-1 trial and stage 2's finished one as they were."""
    path = tuning_file(tmp_path, protocols=["first_phases"], first_phases=1, seeds=[5])
    cmd = [sys.executable, "-m", "raycil.sweep", str(path), "--address", ray_address, "--set",
           "max_concurrent=1", "--set", "train.epochs_first=10", "--set", "train.epochs=150"]
    exp = plan_sweep(path).exp_dir
    env = driver_env()
    driver = start_driver(cmd)

    def one_done_one_started() -> bool:
        assert driver.poll() is None, "the sweep ended before it could be interrupted"
        stage2 = exp / "stage2"
        lines = sorted(len(result_lines(d)) for d in trial_dirs(stage2).values()) if stage2.is_dir() else []
        return lines == [1, 2]

    try:
        wait_for(one_done_one_started, timeout=400)
    finally:
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    names = ("stage1-first_phases",)
    stage1 = {t: (d / "result.json").read_bytes()
              for name in names for t, d in trial_dirs(exp / name).items()}
    done = {t: (d / "result.json").read_bytes() for t, d in trial_dirs(exp / "stage2").items()
            if len(result_lines(d)) == 2}
    assert len(stage1) == 2 and len(done) == 1
    resumed = finish([*cmd, "--resume"], env, timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for name in names:
        assert f"'{name}' finished before; kept as it is" in resumed.stdout
        for t, d in trial_dirs(exp / name).items():
            assert (d / "result.json").read_bytes() == stage1[t]
    for t, d in trial_dirs(exp / "stage2").items():
        if t in done:
            assert (d / "result.json").read_bytes() == done[t]
        assert [line["phase"] for line in result_lines(d)] == [1, 2]  # no phase twice
    # first_phases' candidates trained one phase; the protocol chose on their validation score
    first = pd.read_csv(exp / "stage1-first_phases" / "trials.csv")
    assert first["phase"].max() == 1 and set(first["phases_total"]) == {1}
    chosen = json.loads((exp / "chosen.json").read_text())
    means = first.groupby("train.lr")["val_avg_inc_acc"].mean()
    assert chosen["first_phases"]["setting"] == {"train.lr": float(means.idxmax())}
    assert chosen["first_phases"]["ranked_on"] == "val_avg_inc_acc"
    table = protocols_table(exp)
    assert table["protocol"].tolist() == ["first_phases"]
    assert table["n_seeds"].tolist() == [2] and table["eval_phases"].tolist() == [4]
    assert (exp / "protocols.csv").is_file() and (exp / "protocols.png").is_file()
    assert "tuning protocols" in resumed.stdout
    (exp / "protocols.csv").unlink()
    assert report_cli.main([str(exp)]) == 0 and (exp / "protocols.csv").is_file()  # rebuilt from the folder
