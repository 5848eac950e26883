"""A sweep's ``paper:`` block: the paper's values beside ours in the report, the signs of the paired
differences against the paper's, whether our 95% CI tells them apart (else the seed count a
power calculation gives), Kendall's τ of the orderings; bad blocks refused in one line. Every
shipped block names real variants and settings. No Ray here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from raycil import report
from raycil.config import ConfigError
from raycil.report.paper import orderings, paper_line, paper_table
from raycil.report.stats import seeds_for_power
from raycil.sweep.plan import plan_sweep
from raycil.sweep.settings import SweepConfig

ROOT = Path(__file__).resolve().parents[1]
PAPER = {"source": "A paper, Table 9", "setting": "a dataset, N = 5",
         "values": {"base": 60.0, "better": 63.0, "noisy": 61.0, "worse": 58.0}}


def final_lines(trial: str, variant: str, seed: int, acc: float, **params) -> list[dict]:
    """Two Tune-shaped phase reports of one trial whose average incremental accuracy ends at ``acc``."""
    config = {"variant": variant, "seed": seed, **params}
    return [{"trial_id": trial, "config": config, **config, "phase": p, "phases_total": 2,
             "training_iteration": p, "top1": acc, "avg_inc_acc": acc if p == 2 else acc + 1,
             "last_acc": acc, "forgetting": 1.0, "avg_imbalance": 5.0, "old_acc": acc,
             "val_top1": acc - 1, "val_avg_inc_acc": acc - 1}
            for p in (1, 2)]


def planted_lines() -> tuple[SweepConfig, list[dict]]:
    """Four variants x 5 seeds: 'better' is base + 2 (+ small noise) on every seed, 'noisy' base
    + 1 with a spread of 2, 'worse' base − 1."""
    sweep = SweepConfig.model_validate({"name": "p", "variants": {v: {} for v in PAPER["values"]},
                                        "seeds": [0, 1, 2, 3, 4], "paper": PAPER})
    rng = np.random.default_rng(0)
    lines = []
    for seed in range(5):
        base = 50.0 + 3 * seed
        noise = rng.normal(size=3)
        for variant, acc in (("base", base), ("better", base + 2 + 0.1 * noise[0]),
                             ("noisy", base + 1 + 2 * noise[1]), ("worse", base - 1 + 0.1 * noise[2])):
            lines += final_lines(f"{variant}-{seed}", variant, seed, float(acc))
    return sweep, lines


def planted(tmp_path: Path) -> report.Experiment:
    sweep, lines = planted_lines()
    return report.experiment_from_results(tmp_path, sweep, lines, {})


def test_beside_the_paper_signs_ci_and_power(tmp_path):
    exp = planted(tmp_path)
    table = paper_table(exp).set_index("variant")
    assert table.loc["base", "paper"] == 60.0 and math.isnan(table.loc["base", "paper_delta"])
    finals = exp.done.pivot_table(index="seed", columns="variant", values="avg_inc_acc")
    for name, paper_delta in (("better", 3.0), ("noisy", 1.0), ("worse", -2.0)):
        row = table.loc[name]
        diff = finals[name] - finals["base"]
        assert row["paper_delta"] == paper_delta
        assert row["ours_delta"] == pytest.approx(diff.mean())
        assert row["ours"] == pytest.approx(finals[name].mean())
        assert row["same_sign"] == ((diff.mean() > 0) == (paper_delta > 0))
        result = stats.ttest_rel(finals[name], finals["base"])
        assert row["p_value"] == pytest.approx(result.pvalue)
    assert table.loc["better", "told_apart"] and table.loc["worse", "told_apart"]
    assert table.loc["better", "same_sign"] and table.loc["worse", "same_sign"]
    noisy = table.loc["noisy"]
    diff = finals["noisy"] - finals["base"]
    assert not noisy["told_apart"]
    assert noisy["seeds_needed"] == seeds_for_power(diff.mean(), diff.std(ddof=1)) > 5
    assert orderings(paper_table(exp))["all"] == pytest.approx(
        stats.kendalltau([60, 63, 61, 58], [finals[v].mean() for v in ("base", "better", "noisy", "worse")])
        .statistic)
    line = paper_line(exp, paper_table(exp))
    assert "beside the paper (A paper, Table 9; a dataset, N = 5)" in line
    assert "differences to base have the paper's sign, 2 of 3 told apart by our 95% CI" in line


def test_report_writes_the_paper_table(tmp_path, capsys):
    exp_dir = tmp_path / "exp"
    (exp_dir / "trial_x").mkdir(parents=True)
    sweep, lines = planted_lines()
    (exp_dir / "sweep.json").write_text(json.dumps({"sweep": sweep.model_dump(mode="json")}))
    (exp_dir / "trial_x" / "result.json").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert report.main([str(exp_dir)]) == 0
    out = capsys.readouterr().out
    assert "beside the paper (A paper, Table 9" in out
    written = pd.read_csv(exp_dir / "paper.csv")
    assert list(written["variant"]) == ["base", "better", "noisy", "worse"]
    md = (exp_dir / "summary.md").read_text()
    assert "## beside the paper: A paper, Table 9" in md and "needs more seeds (~" in md
    assert "beside the paper: A paper, Table 9" in (exp_dir / "report.html").read_text()


def test_values_per_setting_match_the_swept_parameter(tmp_path):
    paper = {"source": "s", "setting": "t",
             "values": {"a": {"protocol.num_phases=5": 50.0, "protocol.num_phases=10": 45.0},
                        "b": {"protocol.num_phases=5": 52.0}}}
    sweep = SweepConfig.model_validate({"name": "p", "variants": {"a": {}, "b": {}}, "seeds": [0, 1],
                                        "search_space": {"protocol.num_phases": {"grid": [5, 10]}},
                                        "paper": paper})
    lines = []
    for n in (5, 10):
        for seed in (0, 1):
            for v, acc in (("a", 40.0 + seed), ("b", 43.0 + seed + 0.1 * n)):
                lines += final_lines(f"{v}-{n}-{seed}", v, seed, acc, **{"protocol.num_phases": n})
    exp = report.experiment_from_results(tmp_path, sweep, lines, {})
    table = paper_table(exp)
    assert list(table["setting"]) == ["protocol.num_phases=5", "protocol.num_phases=10",
                                      "protocol.num_phases=5"]
    b = table.iloc[2]
    assert b["paper_delta"] == 2.0 and b["ours_delta"] == pytest.approx(3.5) and b["same_sign"]
    assert table.iloc[1]["ours"] == pytest.approx(40.5)


@pytest.mark.parametrize("values, message", [
    ({"nope": 1.0}, "paper.values.nope: not a variant of this sweep (variants: a, b)"),
    ({"a": {"train.lr=0.1": 1.0}}, "paper.values.a: setting 'train.lr=0.1' must give each swept parameter"),
    ({"a": {"5": 1.0}}, "expected key=value pairs"),
])
def test_bad_paper_blocks_are_refused_in_one_line(values, message):
    data = {"name": "p", "variants": {"a": {}, "b": {}},
            "search_space": {"protocol.num_phases": {"grid": [5]}},
            "paper": {"source": "s", "setting": "t", "values": values}}
    with pytest.raises(Exception, match="paper") as err:
        SweepConfig.model_validate(data)
    assert message in str(err.value)


def test_every_shipped_paper_block_names_its_variants_and_settings(tmp_path):
    """The ablation files' blocks validate (planned at the local profile: every variant and setting
    the block names exists in the plan)."""
    blocks = 0
    for path in sorted([*ROOT.glob("ablations/*.yaml"), *ROOT.glob("search_spaces/*.yaml")]):
        if "paper" not in yaml.safe_load(path.read_text()):
            continue
        try:
            plan = plan_sweep(path, None, {"storage_path": str(tmp_path)})
        except ConfigError as err:
            raise AssertionError(f"{path.name}: {err}") from None
        if plan.sweep.paper is not None:
            blocks += 1
            assert plan.sweep.paper.source and plan.sweep.paper.setting
    assert blocks >= 4
