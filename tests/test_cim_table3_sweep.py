"""The headline sweep: the smoke profile of ablations/cim_table3.yaml runs all eleven Table 3 rows
end to end through Ray Tune and builds the Table 3-style summary with the CIM columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import ray

from raycil import report
from raycil.sweep import run_sweep
from raycil.sweep_config import plan_sweep

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_local():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_table3_smoke_profile_runs_every_row_through_the_sweep(tmp_path, ray_local):
    plan = plan_sweep(ROOT / "ablations/cim_table3.yaml", "smoke", {"storage_path": str(tmp_path)})
    results = run_sweep(plan)
    assert len(results) == 11 and all(r.error is None for r in results)
    report.build(plan.exp_dir)
    summary = pd.read_csv(plan.exp_dir / "summary.csv")
    assert summary["variant"].tolist() == list(dict.fromkeys(t.variant for t in plan.trials))
    trials = pd.read_csv(plan.exp_dir / "trials.csv")
    last = trials[trials["phase"] == trials["phases_total"]].set_index("variant")
    assert (last["memory_units"] <= 6 + 1e-6).all()
    assert pd.isna(last.loc["1-Baseline", "units_per_exemplar"])
    assert (last.drop(["1-Baseline", "2-ArtifactAug"])["units_per_exemplar"] < 1).all()
    assert last.loc["9-BOP", "cim_iou"] >= 0 and last.loc["6-ClassActi", "cam_iou"] >= 0
    assert "9-BOP" in (plan.exp_dir / "summary.md").read_text()
