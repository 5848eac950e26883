"""A few shipped configs and sweep trials give, to the last digit, the metrics recorded in
tests/golden/smoke.json (``python tests/golden_metrics.py record|check`` handles them all): a
change that should not alter results is held to that. More cases are checked where a test runs
them anyway: the LUCIR, WA, DER and FOSTER configs (tests/test_methods_strong.py), every Table 3
row and MRDC's rows through the sweep (tests/test_cim_table3_sweep.py)."""

from __future__ import annotations

import json

import pytest
from golden_metrics import differences, path_for

CASES = [
    "config:configs/icarl.yaml:smoke",
    "sweep:ablations/mnemonics_table2.yaml:smoke:ours-beta100 seed=0 protocol.num_phases=3",
    "sweep:ablations/mfgr_table2.yaml:smoke:LwF-G_bn-div seed=0",
    "sweep:search_spaces/ssil_replay.yaml:smoke:base seed=0 protocol.num_phases=4 train.replay_batch_size=16",
]


@pytest.mark.parametrize("case", CASES)
def test_shipped_config_gives_its_recorded_metrics(case, golden_run):
    recorded = json.loads(path_for("smoke").read_text())[case]
    assert differences(recorded, golden_run(case)) == []
