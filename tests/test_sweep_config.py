"""Sweep files: expansion (variants x search space x seeds), profiles and overrides, one-line
errors with exit 2 and nothing written, the shipped sweep files. No Ray is started here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sweep_helpers import TINY

from raycil.config import ConfigError
from raycil.sweep.cli import main
from raycil.sweep.outputs import check_outputs, plan_record
from raycil.sweep.plan import plan_sweep

ROOT = Path(__file__).resolve().parents[1]


def sweep_file(tmp_path: Path, **sections) -> Path:
    doc = {"name": "t", "experiment": TINY, "storage_path": str(tmp_path / "runs"), **sections}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_variants_x_grid_x_seeds_expand_to_validated_trial_configs(tmp_path):
    path = sweep_file(tmp_path, variants={"a": {}, "b": {"train": {"lr": 0.2}, "memory.selection": "random"}},
                      search_space={"train.batch_size": [8, 16]}, seeds=[0, 1, 2])
    plan = plan_sweep(path)
    assert len(plan.trials) == 12
    assert {(t.variant, t.seed, t.params["train.batch_size"]) for t in plan.trials} == {
        (v, s, b) for v in "ab" for s in (0, 1, 2) for b in (8, 16)}
    for t in plan.trials:
        cfg = plan.experiment_config(t)
        assert cfg.seed == t.seed and cfg.train.batch_size == t.params["train.batch_size"]
        expected = (0.2, "random") if t.variant == "b" else (0.05, "herding")
        assert (cfg.train.lr, cfg.memory.selection) == expected
        assert cfg.name == f"t-{t.variant}-s{t.seed}"
    assert plan.max_phases == 2


def test_random_search_draws_are_seeded_in_range_and_crossed(tmp_path):
    space = {"train.lr": {"loguniform": [0.001, 0.1]}, "train.epochs": {"randint": [1, 4]},
             "train.momentum": {"quniform": [0.5, 0.9, 0.1]}, "memory.selection": ["herding", "random"]}
    path = sweep_file(tmp_path, search_space=space, seeds=[0, 1], search={"kind": "random", "num_samples": 5})
    trials = plan_sweep(path).trials
    assert len(trials) == 5 * 2 * 2  # draws x grid x seeds
    assert trials == plan_sweep(path).trials
    for t in trials:
        p = t.params
        assert 0.001 <= p["train.lr"] <= 0.1 and p["train.epochs"] in (1, 2, 3)
        assert isinstance(p["train.epochs"], int)
        assert round(p["train.momentum"] * 10) == pytest.approx(p["train.momentum"] * 10)
    assert len({t.params["train.lr"] for t in trials}) == 5
    other = plan_sweep(path, overrides=["search.seed=1"]).trials
    assert {t.params["train.lr"] for t in other} != {t.params["train.lr"] for t in trials}


def test_extends_profiles_and_overrides(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({**TINY, "profiles": {"smoke": {"train.epochs": 3}}}))
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "ext", "extends": "base.yaml", "experiment": {"train": {"lr": 0.3}}, "seeds": [0, 1],
        "storage_path": str(tmp_path / "runs"),
        "profiles": {"smoke": {"seeds": [5], "train.batch_size": 4}}}))
    plan = plan_sweep(path, "smoke", ["train.epochs_first=2", "search.num_samples=1"])
    cfg = plan.experiment_config(plan.trials[0])
    assert [t.seed for t in plan.trials] == [5]
    assert (cfg.train.epochs, cfg.train.lr, cfg.train.batch_size, cfg.train.epochs_first) == (3, 0.3, 4, 2)
    assert plan_sweep(path).experiment_config(plan_sweep(path).trials[0]).train.epochs == 1


def test_a_variant_can_start_from_its_own_experiment_file(tmp_path):
    """A row that ``extends`` a file starts from it (its same-named profile too), then the sweep's
    ``experiment:`` and the row's own keys, as the shared base does for the other rows."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({**TINY, "profiles": {"smoke": {"train.epochs": 3}}}))
    (tmp_path / "ssil.yaml").write_text(yaml.safe_dump(
        {"extends": "base.yaml", "method": {"name": "ssil"}, "train": {"replay_batch_size": 8},
         "profiles": {"smoke": {"train.replay_batch_size": 4}}}))
    path = sweep_file(tmp_path, extends="base.yaml", experiment={"train": {"lr": 0.3}},
                      variants={"FT": {}, "SSIL": {"extends": "ssil.yaml"},
                                "SSIL-16": {"extends": "ssil.yaml", "train.replay_batch_size": 16}},
                      profiles={"smoke": {}})
    plan = plan_sweep(path, "smoke")
    cfgs = {t.variant: plan.experiment_config(t) for t in plan.trials}
    assert cfgs["FT"].method.name == "finetune" and cfgs["SSIL"].method.name == "ssil"
    assert [cfgs[v].train.replay_batch_size for v in ("FT", "SSIL", "SSIL-16")] == [0, 4, 16]
    assert {(c.train.lr, c.train.epochs) for c in cfgs.values()} == {(0.3, 3)}
    with pytest.raises(ConfigError, match=r"^variants.X.extends: config file '.*nope.yaml' does not exist"):
        plan_sweep(sweep_file(tmp_path, variants={"X": {"extends": "nope.yaml"}}))


BAD = [
    ({"seeds_list": [0]}, "seeds_list: unknown key (did you mean 'seeds'?)"),
    ({"search_space": {"train.lr": {"normal": [0, 1]}}},
     "search_space.train.lr: unknown distribution 'normal'"),
    ({"search_space": {"train.lr": {"loguniform": [0, 1]}}, "search": {"kind": "random"}},
     "search_space.train.lr: loguniform takes [low, high] with 0 < low < high"),
    ({"variants": {"bad": {"train.epochz": 3}}},
     "variants.bad.train.epochz: unknown key (did you mean 'epochs'?)"),
    ({"variants": {"bad": {"train.epochs": -1}}}, "variants.bad: train.epochs:"),
    ({"search_space": {"train.batch_size": [8, 0]}}, "search_space.train.batch_size = 0: train.batch_size:"),
    ({"search_space": {"train.lr": {"uniform": [0.1, 0.2]}}}, "needs search.kind random or optuna"),
    ({"search_space": {"train.lr": [0.1]}, "search": {"kind": "optuna"}}, "cannot be searched by Optuna"),
    ({"search_space": {"train.lr": {"uniform": [0.1, 0.2]}}, "seeds": [0, 1], "search": {"kind": "optuna"}},
     "use one seed"),
    ({"scheduler": {"kind": "asha", "grace_period": 3}}, "scheduler.grace_period: 3 phases exceeds"),
    ({"scheduler": {"kind": "asha"}, "search_space": {"protocol.num_phases": [2, 4]}},
     "scheduler.kind: asha ranks trials at the same phase, but these trials learn their classes on "
     "different schedules (2 phases of 2/2 classes vs 4 phases of 1/1/1/1 classes)"),
    ({"resources": {"cpu": 0.1}}, "resources.cpu (0.1) must exceed memory_cpu + driver_cpu (0.15):"),
    ({"objective": {"metric": "accuracy"}}, "objective.metric: 'accuracy' is not allowed"),
    ({"seeds": [1, 1]}, "seeds must be distinct"),
    ({"search_space": {"seed": [1, 2]}}, "search_space.seed: not sweepable"),
    ({"search_space": {"mnemonics.epochz": [5, 6]}},
     "search_space.mnemonics.epochz: unknown key (did you mean 'epochs'?)"),
    ({"variants": {"m": {"method.name": "mfgr"}}}, "variants.m: method.name: 'mfgr' is not allowed"),
    ({"search_space": {"cim.taus": [0.5, 0.6]}}, "search_space.cim.taus: unknown key (did you mean 'tau'?)"),
    ({"extends": "missing.yaml"}, "extends: config file"),
    ({"experiment": {**TINY, "device": "cuda"}}, "resources.gpu: 0, but the experiment asks for device"),
    ({"experiment": {**TINY, "train": {**TINY["train"], "precision": "fp16"}}},
     "resources.gpu: 0, but the experiment trains in train.precision fp16"),
    ({"experiment": {**TINY, "protocol": {"num_phases": 3}}}, "experiment: protocol.num_phases:"),
]


@pytest.mark.parametrize(("sections", "message"), BAD, ids=[m[:30] for _, m in BAD])
def test_bad_sweep_is_one_line_error_exit_2_and_writes_nothing(tmp_path, capsys, sections, message):
    path = sweep_file(tmp_path, **sections)
    with pytest.raises(ConfigError) as err:
        plan_sweep(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert main([str(path)]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert err_lines == [f"raycil.sweep: error: {err.value}"]
    assert not (tmp_path / "runs").exists()


def test_unknown_profile_and_set_errors(tmp_path):
    with pytest.raises(ConfigError, match="--profile: unknown profile 'smoke'"):
        plan_sweep(sweep_file(tmp_path), "smoke")  # a file without profiles
    path = sweep_file(tmp_path, profiles={"smoke": {"seeds": [0]}})
    with pytest.raises(ConfigError, match="--profile: unknown profile 'smok' \\(did you mean 'smoke'"):
        plan_sweep(path, "smok")
    with pytest.raises(ConfigError, match="expected key=value"):
        plan_sweep(path, overrides=["seeds"])


def test_dry_run_prints_trials_and_writes_nothing(tmp_path, capsys):
    path = sweep_file(tmp_path, variants={"a": {}, "b": {}}, seeds=[0, 1])
    assert main([str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "4 trials = 2 variants x 1 settings x 2 seeds" in out and "b seed=1" in out
    assert not (tmp_path / "runs").exists()


def test_existing_results_need_resume_and_resume_needs_results(tmp_path):
    plan = plan_sweep(sweep_file(tmp_path))
    with pytest.raises(ConfigError, match="holds no sweep to resume"):
        check_outputs(plan, resume=True)
    plan.exp_dir.mkdir(parents=True)
    (plan.exp_dir / "sweep.json").write_text(json.dumps(plan_record(plan)))
    check_outputs(plan, resume=False)  # a plan without Tune state (killed before Tune began)
    (plan.exp_dir / "tuner.pkl").write_bytes(b"")  # what Tune.can_restore looks for
    with pytest.raises(ConfigError, match="already holds a sweep; pass --resume"):
        check_outputs(plan, resume=False)
    changed = plan_sweep(sweep_file(tmp_path, seeds=[0, 1]))
    with pytest.raises(ConfigError, match="the sweep's settings differs"):
        check_outputs(changed, resume=True)


def test_shipped_sweep_files():
    smoke = plan_sweep(ROOT / "search_spaces/ssil_replay.yaml", "smoke")
    local = plan_sweep(ROOT / "search_spaces/ssil_replay.yaml", "local")
    assert len(smoke.trials) == 4 and len(local.trials) == 3 * 4 * 3
    assert {local.experiment_config(t).method.name for t in local.trials} == {"ssil"}
    sens_smoke = plan_sweep(ROOT / "search_spaces/cim_sensitivity.yaml", "smoke")
    sens_local = plan_sweep(ROOT / "search_spaces/cim_sensitivity.yaml", "local")
    assert len(sens_smoke.trials) == 2 and len(sens_local.trials) == 24 * 2
    swept = {"cim.tau", "cim.eta", "cim.beta1", "cim.beta2", "cim.mu", "cim.mu_prime"}
    assert all(set(t.params) == swept for t in sens_local.trials)
    assert {sens_local.experiment_config(t).cim.boxes for t in sens_local.trials} == {"cim"}


@pytest.mark.parametrize("path", sorted([*ROOT.glob("ablations/*.yaml"), *ROOT.glob("search_spaces/*.yaml")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_sweep_plans_under_each_profile(path):
    """Each profile plans; those of datasets not on this machine fail on their root, and only there."""
    for profile in yaml.safe_load(path.read_text()).get("profiles", {}):
        try:
            plan = plan_sweep(path, profile)
        except ConfigError as err:
            assert "dataset.root: directory" in str(err) and "does not exist" in str(err)
            continue
        assert plan.trials and all(plan.experiment_config(t) for t in plan.trials)


def test_relative_data_paths_are_resolved_where_the_sweep_was_started(tmp_path, monkeypatch):
    """Trials run in their own folders: a tree, its boxes file and its cache named relative to
    the working directory reach them as absolute paths."""
    from raycil.data.export_tree import export_tree

    monkeypatch.chdir(tmp_path)
    export_tree(tmp_path / "tree", 4, 3, 2, 16)
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"name": "rel", "seeds": [0], "experiment": {
        **TINY, "dataset": {"name": "imagefolder", "root": "tree", "boxes": "tree/boxes.csv",
                            "cache_dir": "c"}}}))
    plan = plan_sweep(str(sweep))
    dataset = plan.experiment_config(plan.trials[0]).dataset
    assert (dataset.root, dataset.boxes, dataset.cache_dir) == (
        str(tmp_path / "tree"), str(tmp_path / "tree/boxes.csv"), str(tmp_path / "c"))
    assert plan.datasets == [dataset] and dataset.num_classes == 4 and dataset.image_size == 16


def test_asha_by_default_rungs_from_the_first_incremental_phase(tmp_path):
    from raycil.sweep.tuner import scheduler

    path = sweep_file(tmp_path, experiment={**TINY, "dataset": {**TINY["dataset"], "num_classes": 10},
                                            "protocol": {"kind": "lfs", "num_phases": 10}},
                      scheduler={"kind": "asha"}, search_space={"train.lr": [0.01, 0.1]})
    asha = scheduler(plan_sweep(path))
    # phase 1 has an empty memory (every replay setting ties): the first rung is phase 2, then x4
    assert sorted(milestone for milestone, _ in asha._brackets[0]._rungs) == [2, 8]
