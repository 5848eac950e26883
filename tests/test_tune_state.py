"""Tune state files torn by a driver killed mid-copy are mended from the driver's staging copy,
set aside when there is none, and a sweep with no readable state is refused (no Ray needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ray.cloudpickle as cloudpickle

from raycil.config import ConfigError
from raycil.sweep import tune_state

STAMP = "2026-01-02_03-04-05"


def experiment_state(*trial_ids: str) -> str:
    return json.dumps({"trial_data": [[json.dumps({"trial_id": t}), "{}"] for t in trial_ids],
                       "runner_data": {}, "stats": {}})


@pytest.fixture
def sweep(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(sweep directory with one trial, this sweep's driver staging directory under RAY_TMPDIR)."""
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "raytmp"))
    exp = tmp_path / "runs" / "demo"
    (exp / "ft_s0_abcde_00000").mkdir(parents=True)
    staging = tmp_path / "raytmp/ray/session_1/artifacts" / STAMP / "demo/driver_artifacts"
    staging.mkdir(parents=True)
    return exp, staging


def test_torn_state_is_restored_from_the_staging_copy(sweep):
    exp, staging = sweep
    name = f"experiment_state-{STAMP}.json"
    (staging / name).write_text(experiment_state("abcde_00000"))
    (exp / name).write_text(experiment_state("abcde_00000")[:25])
    searcher = f"basic-variant-state-{STAMP}.json"
    (staging / searcher).write_bytes(cloudpickle.dumps({"_iterators": []}))
    (exp / searcher).write_bytes(cloudpickle.dumps({"_iterators": []})[:10])
    done = tune_state.repair(exp)
    assert len(done) == 2 and all("restored from" in line for line in done)
    assert (exp / name).read_text() == (staging / name).read_text()
    assert cloudpickle.loads((exp / searcher).read_bytes()) == {"_iterators": []}
    assert tune_state.repair(exp) == []  # intact now: nothing more to do


def test_staging_copy_of_another_sweep_with_the_same_name_is_not_taken(sweep):
    exp, staging = sweep
    older, newest = "experiment_state-2026-01-01_00-00-00.json", f"experiment_state-{STAMP}.json"
    (exp / older).write_text(experiment_state("abcde_00000"))
    (exp / newest).write_text("")
    (staging / newest).write_text(experiment_state("fffff_00000"))
    done = tune_state.repair(exp)
    assert "set aside as .torn" in done[0]
    assert sorted(p.name for p in exp.glob("experiment_state-*")) == [older, newest + ".torn"]


def test_no_readable_experiment_state_is_refused(sweep):
    exp, _ = sweep
    with pytest.raises(ConfigError, match=r"holds no readable Tune state of the form experiment_state"):
        tune_state.repair(exp)
    (exp / f"experiment_state-{STAMP}.json").write_text("{")
    with pytest.raises(ConfigError, match=r"holds no readable Tune state of the form experiment_state"):
        tune_state.repair(exp)


def test_torn_only_searcher_state_without_a_copy_is_refused(sweep):
    """Without its searcher state Tune would end the sweep without the trials not yet launched."""
    exp, _ = sweep
    (exp / f"experiment_state-{STAMP}.json").write_text(experiment_state("abcde_00000"))
    (exp / f"basic-variant-state-{STAMP}.json").write_bytes(b"\x80")
    with pytest.raises(ConfigError, match=r"no readable Tune state of the form basic-variant-state"):
        tune_state.repair(exp)
