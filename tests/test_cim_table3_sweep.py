"""The headline sweeps end to end through Ray Tune: the smoke profile of ablations/cim_table3.yaml
runs all eleven Table 3 rows, each trial on its actors with the metrics recorded for it in-process
(tests/golden/smoke.json), and builds the Table 3-style summary with the CIM columns; that of
ablations/mrdc_vs_cim.yaml puts MRDC's JPEG memories beside them, its CIM rows being the Table 3
trials themselves (the same experiments, so the sweep runs only its MRDC rows)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sweep_helpers import golden_differences

from raycil import report
from raycil.sweep.plan import plan_sweep
from raycil.sweep.tuner import run_sweep

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = ["trial_id", "status", "train_seconds", "images_per_s", "learner_node", "started_at",
            "ended_at"]


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
    differing = golden_differences(plan.exp_dir, "ablations/cim_table3.yaml")
    assert len(differing) == 11 and all(not d for d in differing.values()), differing
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
    shared = ["1-Baseline", "6-ClassActi", "9-BOP"]
    table3_plan = table3[0]
    for variant in shared:  # the same experiments as Table 3's rows (bar their names)
        ours = plan.experiment_config(next(t for t in plan.trials if t.variant == variant))
        theirs = table3_plan.experiment_config(next(t for t in table3_plan.trials if t.variant == variant))
        assert ours.model_dump(exclude={"name"}) == theirs.model_dump(exclude={"name"})
    plan.trials = [t for t in plan.trials if t.variant not in shared]
    results = run_sweep(plan)
    assert len(results) == 2 and all(r.error is None for r in results)
    differing = golden_differences(plan.exp_dir, "ablations/mrdc_vs_cim.yaml")
    assert len(differing) == 2 and all(not d for d in differing.values()), differing
    report.build(plan.exp_dir)
    rows = pd.read_csv(plan.exp_dir / "trials.csv").drop(columns=VOLATILE, errors="ignore")
    last = rows[rows["phase"] == rows["phases_total"]].set_index("variant")
    assert (last.loc[["MRDC-q50", "MRDC-auto"], "units_per_exemplar"] < 1).all()
    assert last.loc["MRDC-q50", "jpeg_quality"] == 50
    assert last.loc["MRDC-auto", "jpeg_quality"] in range(10, 100, 10)
    assert (last["memory_bytes"] <= 6 * 32 * 32 * 3 + 1e-6).all()
    table3_rows = pd.read_csv(table3_plan.exp_dir / "trials.csv")
    assert "jpeg_quality" not in table3_rows or table3_rows["jpeg_quality"].isna().all()
