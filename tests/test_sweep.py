"""A small end-to-end sweep on a local Ray (2 CPUs, dashboard on for the state API): trial count
and output files, ASHA stopping the weak variant early, the Optuna round trip against
trials.csv, both actors of every trial visible under their names while it runs, and the
exemplars passing from actor to actor without the driver."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time

import optuna
import pandas as pd
import pytest
import ray
import torch
from ray.util.state import list_actors
from sweep_helpers import TINY, reference_phases, same_metrics, write_sweep

from raycil import report
from raycil.config import build_config
from raycil.data.export_tree import export_tree
from raycil.learner.phases import run_phases
from raycil.plugins.assembly import memory_args
from raycil.sweep.actors import LearnerActor, MemoryActor, RemoteLearner, RemoteMemory, spawn
from raycil.sweep.plan import plan_sweep
from raycil.sweep.tuner import run_sweep


def watch_actor_names(api: str, seen: set[str], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            seen.update(a.name for a in list_actors(api, filters=[("state", "=", "ALIVE")]) if a.name)
        except Exception:  # the state API can be briefly unavailable while Ray is busy; poll on
            pass
        time.sleep(0.3)


@pytest.mark.slow
def test_small_asha_sweep_outputs_optuna_round_trip_and_named_actors(tmp_path, ray_local):
    strong = {"train.epochs_first": 20, "train.epochs": 20}
    weak = {"train.epochs_first": 0, "train.epochs": 0}  # untrained: chance accuracy
    path = write_sweep(tmp_path, "small", variants={"strong": strong, "weak": weak}, seeds=[0, 1],
                       scheduler={"kind": "asha", "grace_period": 1, "reduction_factor": 2},
                       objective={"metric": "top1", "mode": "max"}, max_concurrent=2)
    plan = plan_sweep(path)
    order = [(t.variant, t.seed) for t in plan.trials]
    assert order == [("strong", 0), ("strong", 1), ("weak", 0), ("weak", 1)]
    seen: set[str] = set()
    stop = threading.Event()
    watcher = threading.Thread(target=watch_actor_names, args=(ray_local, seen, stop))
    watcher.start()
    try:
        results = run_sweep(plan)
    finally:
        stop.set()
        watcher.join()
    assert len(results) == 4 and all(r.error is None for r in results)

    # ASHA: the strong trials reach the first rung first; both weak ones fall below it and stop
    phases = {(r.config["variant"], r.config["seed"]): r.metrics["phase"] for r in results}
    assert phases[("weak", 0)] == phases[("weak", 1)] == 1
    assert max(phases[("strong", 0)], phases[("strong", 1)]) == 2

    exp = plan.exp_dir
    built = report.build(exp)
    for name in ("trials.csv", "trials.parquet", "summary.csv", "summary.md", "optuna.db",
                 "plots/accuracy_vs_classes.png"):
        assert (exp / name).is_file(), name
    trials = pd.read_csv(exp / "trials.csv")
    last_phase = trials.groupby("trial_id")["phase"].max()
    assert trials["trial_id"].nunique() == 4 and len(trials) == sum(phases.values())
    assert pd.read_parquet(exp / "trials.parquet").shape == trials.shape
    # the accuracy matrix: its diagonal is each phase's new-class accuracy, its first column the
    # first phase's classes (forgetting F's)
    for _, row in trials.iterrows():
        assert row[f"group{row['phase']}_acc"] == pytest.approx(row["new_acc"])
        assert row["group1_acc"] == pytest.approx(row["first_acc"])
    summary = pd.read_csv(exp / "summary.csv")
    complete = sum(p == 2 for p in phases.values())
    assert summary["variant"].tolist() == ["strong"] and summary["n_seeds"].tolist() == [complete]
    assert f"{complete} complete, {4 - complete} stopped early" in built.text

    # every trial's actors are listed under names telling trial and variant apart, and those of
    # the trials that ran all phases were seen alive while their trial ran
    listed = {a.name for a in list_actors(ray_local, limit=10_000)}
    for trial_id, variant in trials.groupby("trial_id")["variant"].first().items():
        for role in ("LearnerActor", "MemoryActor"):
            assert f"{role}[{variant}/{trial_id}]" in listed
            if last_phase[trial_id] == 2:
                assert f"{role}[{variant}/{trial_id}]" in seen

    # Optuna round trip: one study trial per Tune trial, params and values as in trials.csv
    study = optuna.load_study(study_name="small", storage=report.optuna_url(exp))
    assert len(study.trials) == 4
    last = trials.groupby("trial_id").tail(1).set_index("trial_id")
    for t in study.trials:
        row = last.loc[t.user_attrs["tune_trial_id"]]
        assert t.params == {"variant": row["variant"]}
        assert (t.user_attrs["variant"], t.user_attrs["seed"]) == (row["variant"], row["seed"])
        assert t.user_attrs["last_acc"] == pytest.approx(row["last_acc"])
        # ASHA and the study rank on the validation split (objective.split: val, the default)
        per_phase = trials[trials["trial_id"] == row.name].set_index("phase")["val_top1"]
        assert t.intermediate_values == pytest.approx(per_phase.to_dict())
        # the study trial's times are the trial's: its first phase's start, its last phase's end
        phases_of = trials[trials["trial_id"] == row.name]
        assert t.datetime_start.timestamp() == pytest.approx(phases_of["started_at"].min(), abs=1e-3)
        if row["phase"] == 2:
            assert t.state == optuna.trial.TrialState.COMPLETE and t.value == pytest.approx(row["val_top1"])
            assert t.datetime_complete.timestamp() == pytest.approx(phases_of["ended_at"].max(), abs=1e-3)
        else:
            assert t.state == optuna.trial.TrialState.PRUNED
    report.build(exp)  # exporting again rebuilds the study instead of adding to it
    assert len(optuna.load_study(study_name="small", storage=report.optuna_url(exp)).trials) == 4


@pytest.mark.slow
def test_optuna_search_study_is_the_live_one_with_every_trial(tmp_path, ray_local):
    space = {"train.lr": {"loguniform": [0.01, 0.2]}, "train.momentum": {"uniform": [0.5, 0.95]}}
    path = write_sweep(tmp_path, "tpe", search_space=space, search={"kind": "optuna", "num_samples": 2},
                       max_concurrent=2)
    plan = plan_sweep(path)
    results = run_sweep(plan)
    assert len(results) == 2 and all(r.error is None for r in results)
    study = optuna.load_study(study_name="tpe", storage=report.optuna_url(plan.exp_dir))
    report.build(plan.exp_dir)
    report.build(plan.exp_dir)
    trials = pd.read_csv(plan.exp_dir / "trials.csv")
    live = optuna.load_study(study_name="tpe", storage=report.optuna_url(plan.exp_dir)).trials
    assert len(study.trials) == len(live) == 2
    for t in live:
        rows = trials[trials["trial_id"] == t.user_attrs["tune_trial_id"]].set_index("phase")
        assert t.params["train.lr"] == pytest.approx(rows["train.lr"].iloc[0], rel=1e-12)
        assert t.params["train.momentum"] == pytest.approx(rows["train.momentum"].iloc[0], rel=1e-12)
        # the search ranks on the validation split (objective.split: val, the default)
        assert t.intermediate_values == pytest.approx(rows["val_avg_inc_acc"].to_dict())
        assert t.value == pytest.approx(rows["val_avg_inc_acc"].iloc[-1])
        assert t.user_attrs["variant"] == "base" and t.user_attrs["seed"] == 0


OPTIMISED_EXEMPLARS = {"memory": {**TINY["memory"], "selection": "random"},
                       "mnemonics": {"enabled": True, "epochs": 2, "unroll": 1, "beta1": 100.0,
                                     "beta2": 100.0}}


GENERATED_REPLAY = {"method": {"name": "lwf"}, "memory": {"mode": "none", "budget": 0},
                    "mfgr": {"enabled": True, "iterations": 5, "batch_size": 16, "width": 16}}


@pytest.mark.parametrize(("plugin", "exemplars"), [({}, 8), (OPTIMISED_EXEMPLARS, 8), (GENERATED_REPLAY, 0)],
                         ids=["raw", "mnemonics", "mfgr"])
def test_exemplars_travel_between_the_actors_not_through_the_driver(ray_local, monkeypatch, plugin,
                                                                   exemplars):
    """The phase loop over a trial's two actors: exemplars and candidates (and exemplars a
    plug-in rewrites, or a generator it records) go from one actor to the other as object
    references; the driver fetches only the small per-phase results, never a tensor, and the run
    ends with the metrics of the in-process one."""
    cfg = build_config({**TINY, "seed": 3, **plugin})
    learner = RemoteLearner(spawn(LearnerActor, "LearnerActor[objref-test]", (cfg,), None, 0, 1.0))
    memory = RemoteMemory(spawn(MemoryActor, "MemoryActor[objref-test]", memory_args(cfg), None, 0, 0.5))
    fetched: list[object] = []
    real_get = ray.get

    def recording_get(refs, *args, **kwargs):
        value = real_get(refs, *args, **kwargs)
        fetched.append(value)
        return value

    monkeypatch.setattr(ray, "get", recording_get)
    try:
        phases = run_phases(cfg, learner, memory)["phases"]
    finally:
        monkeypatch.undo()
        for side in (learner, memory):
            ray.kill(side.actor)
    assert fetched and all(isinstance(v, dict | bool | type(None)) for v in fetched), \
        {type(v).__name__ for v in fetched}
    assert not [k for v in fetched if isinstance(v, dict)
                for k, x in v.items() if isinstance(x, torch.Tensor)]
    assert phases[-1]["exemplars"] == exemplars
    expected = reference_phases(cfg)
    assert [same_metrics(e, g) for e, g in zip(expected, phases, strict=True)] == [[]] * len(phases)


@pytest.mark.parametrize("plugin", [{}, {"cim": {"boxes": "cam"}}, OPTIMISED_EXEMPLARS],
                         ids=["raw", "cim", "mnemonics"])
def test_a_memory_actor_loads_neither_the_learner_nor_torch(plugin):
    """What Ray ships to a MemoryActor's process (the class by reference and its arguments),
    unpickled and built in a fresh interpreter, imports none of the learner's modules, the
    schema or torch (CIM's codec too): the actor costs a trial NumPy / OpenCV, not the learner's
    ~0.7 GB and ~2.7 CPU-s of imports."""
    payload = pickle.dumps((MemoryActor, memory_args(build_config({**TINY, **plugin}))))
    absent = ("raycil.config", "raycil.learner", "raycil.methods", "torch", "torchvision")
    code = ("import pickle, sys; cls, args = pickle.load(sys.stdin.buffer); cls(*args); "
            f"print([m for m in sys.modules if m.startswith({absent!r})])")
    out = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, check=True)
    assert out.stdout.decode().strip() == "[]", out.stderr.decode()[-2000:]


def test_an_image_folder_trial_on_the_actors_matches_the_generated_arrays(tmp_path, ray_local):
    """The built-in data written as a tree: the trial's actors each map the decoded cache and end
    with the metrics of the in-process run on the arrays themselves."""
    data = TINY["dataset"]
    tree = export_tree(tmp_path / "tree", data["num_classes"], data["train_per_class"],
                       data["test_per_class"], data["image_size"])
    cfg = build_config({**TINY, "dataset": {"name": "imagefolder", "root": str(tree),
                                            "cache_dir": str(tmp_path / "cache")}})
    learner = RemoteLearner(spawn(LearnerActor, "LearnerActor[tree-test]", (cfg,), None, 0, 1.0))
    memory = RemoteMemory(spawn(MemoryActor, "MemoryActor[tree-test]", memory_args(cfg), None, 0, 0.5))
    try:
        phases = run_phases(cfg, learner, memory)["phases"]
    finally:
        for side in (learner, memory):
            ray.kill(side.actor)
    expected = reference_phases(build_config(TINY))
    assert [same_metrics(e, g) for e, g in zip(expected, phases, strict=True)] == [[]] * len(phases)
