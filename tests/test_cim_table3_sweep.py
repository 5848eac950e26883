"""The headline sweeps end to end through Ray Tune: the smoke profile of ablations/cim_table3.yaml
runs all eleven Table 3 rows and builds the Table 3-style summary with the CIM columns, and that
of ablations/mrdc_vs_cim.yaml puts MRDC's JPEG memories beside them, its CIM rows repeating the
Table 3 trials of the same seed to the last digit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import ray

from raycil import report
from raycil.sweep import run_sweep
from raycil.sweep_config import plan_sweep

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = ["trial_id", "status", "train_seconds", "images_per_s", "learner_node", "started_at",
            "ended_at"]


@pytest.fixture(scope="module")
def ray_local():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def table3(ray_local, tmp_path_factory):
    plan = plan_sweep(ROOT / "ablations/cim_table3.yaml", "smoke",
                      {"storage_path": str(tmp_path_factory.mktemp("table3"))})
    results = run_sweep(plan)
    report.build(plan.exp_dir)
    return plan, results


def test_table3_smoke_profile_runs_every_row_through_the_sweep(table3):
    plan, results = table3
    assert len(results) == 11 and all(r.error is None for r in results)
    summary = pd.read_csv(plan.exp_dir / "summary.csv")
    assert summary["variant"].tolist() == list(dict.fromkeys(t.variant for t in plan.trials))
    trials = pd.read_csv(plan.exp_dir / "trials.csv")
    last = trials[trials["phase"] == trials["phases_total"]].set_index("variant")
    assert (last["memory_units"] <= 6 + 1e-6).all()
    assert (last["memory_bytes"] <= last["memory_units"] * 32 * 32 * 3 + 1e-6).all()
    assert pd.isna(last.loc["1-Baseline", "units_per_exemplar"])
    assert (last.drop(["1-Baseline", "2-ArtifactAug"])["units_per_exemplar"] < 1).all()
    assert last.loc["9-BOP", "cim_iou"] >= 0 and last.loc["6-ClassActi", "cam_iou"] >= 0
    assert "9-BOP" in (plan.exp_dir / "summary.md").read_text()


def test_mrdc_rows_sit_beside_the_table3_rows_they_repeat(table3, tmp_path):
    plan = plan_sweep(ROOT / "ablations/mrdc_vs_cim.yaml", "smoke", {"storage_path": str(tmp_path)})
    results = run_sweep(plan)
    assert len(results) == 5 and all(r.error is None for r in results)
    report.build(plan.exp_dir)
    rows = pd.read_csv(plan.exp_dir / "trials.csv").drop(columns=VOLATILE, errors="ignore")
    last = rows[rows["phase"] == rows["phases_total"]].set_index("variant")
    assert (last.loc[["MRDC-q50", "MRDC-auto"], "units_per_exemplar"] < 1).all()
    assert last.loc["MRDC-q50", "jpeg_quality"] == 50
    assert last.loc["MRDC-auto", "jpeg_quality"] in range(10, 100, 10)
    assert (last["memory_bytes"] <= 6 * 32 * 32 * 3 + 1e-6).all()
    shared = ["1-Baseline", "6-ClassActi", "9-BOP"]
    table3_rows = pd.read_csv(table3[0].exp_dir / "trials.csv").drop(columns=VOLATILE, errors="ignore")
    ours = rows[rows["variant"].isin(shared)].sort_values(["variant", "phase"]).reset_index(drop=True)
    theirs = table3_rows[table3_rows["variant"].isin(shared)].sort_values(["variant", "phase"])
    common = [c for c in ours.columns if c in theirs.columns]
    assert ours.drop(columns=common).isna().all().all()  # MRDC's columns are empty in these rows
    pd.testing.assert_frame_equal(ours[common], theirs[common].reset_index(drop=True), check_dtype=False)
