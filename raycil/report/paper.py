"""The paper's numbers beside raycil's: a sweep's ``paper:`` block
(:class:`~raycil.sweep.settings.PaperBlock`) in the report.

Per row the paper has a value for: the paper's value and ours (mean ± 95% CI over seeds); for every
variant after the first, at the same setting, the paper's difference to the first variant and
ours paired by seed, whether the signs agree, and whether our 95% CI tells ours from 0 — else the
seed count at which a paired t-test would detect our observed difference with 80% power
(:func:`~raycil.report.stats.seeds_for_power`). Per setting: Kendall's τ between the paper's
ordering of the rows and ours (``scipy.stats.kendalltau``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from raycil.report.loading import Experiment
from raycil.report.stats import mean_ci, paired_test, seeds_for_power
from raycil.report.tables import cell, fmt
from raycil.sweep.settings import PaperBlock, parse_setting

COLUMNS = ["variant", "setting", "paper", "ours", "ours_ci95", "n_seeds", "paper_delta", "ours_delta",
           "ours_delta_ci95", "p_value", "same_sign", "told_apart", "seeds_needed"]


def paper_metric(exp: Experiment, paper: PaperBlock) -> str:
    return paper.metric or exp.sweep.objective.metric


def paper_values(exp: Experiment, paper: PaperBlock) -> list[tuple[str, dict[str, Any], float]]:
    """(variant, setting of the swept parameters, the paper's value) for every value of the block;
    a single value stands for every setting the sweep ran."""
    settings = ([dict(zip(exp.params, key if isinstance(key, tuple) else (key,), strict=True))
                 for key, _ in exp.done.groupby(exp.params, sort=False)] if exp.params else [{}])
    out = []
    for variant, value in paper.values.items():
        if isinstance(value, dict):
            out += [(variant, parse_setting(label), float(v)) for label, v in value.items()]
        else:
            out += [(variant, s, float(value)) for s in settings]
    return out


def _rows_of(exp: Experiment, variant: str, setting: dict[str, Any]) -> pd.DataFrame:
    done = exp.done
    mask = done["variant"] == variant
    for key, value in setting.items():
        mask &= done[key] == value
    return done[mask]


def setting_text(setting: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "all"


def paper_table(exp: Experiment) -> pd.DataFrame | None:
    """One row per value of the paper block at a setting this sweep ran (see the module's
    docstring); None without a block."""
    paper = exp.sweep.paper
    if paper is None:
        return None
    metric = paper_metric(exp, paper)
    values = paper_values(exp, paper)
    first = next(iter(paper.values))
    paper_first = {setting_text(s): v for name, s, v in values if name == first}
    rows = []
    for variant, setting, value in values:
        mine = _rows_of(exp, variant, setting)
        if mine.empty:
            continue
        mean, half, n = mean_ci(mine[metric] if metric in mine else [])
        row: dict[str, Any] = {"variant": variant, "setting": setting_text(setting), "paper": value,
                               "ours": mean, "ours_ci95": half, "n_seeds": n}
        base_value = paper_first.get(row["setting"])
        if variant != first and base_value is not None:
            row.update(_difference(exp, metric, variant, first, setting, value - base_value))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _difference(exp: Experiment, metric: str, variant: str, first: str, setting: dict[str, Any],
                paper_delta: float) -> dict[str, Any]:
    """Ours minus the first variant, paired by seed, against the paper's difference."""
    treated = _rows_of(exp, variant, setting).set_index("seed")[metric]
    base = _rows_of(exp, first, setting).set_index("seed")[metric]
    seeds = treated.index.intersection(base.index)
    mean, half, n, p = paired_test(treated[seeds], base[seeds])
    diffs = (treated[seeds] - base[seeds]).to_numpy(float)
    told = bool(math.isfinite(half) and abs(mean) > half)
    needed = None if told or n < 2 else seeds_for_power(mean, float(np.std(diffs, ddof=1)))
    comparable = paper_delta != 0 and math.isfinite(mean) and mean != 0
    same = (mean > 0) == (paper_delta > 0) if comparable else None
    return {"paper_delta": paper_delta, "ours_delta": mean, "ours_delta_ci95": half, "p_value": p,
            "same_sign": same, "told_apart": told, "seeds_needed": needed}


def orderings(table: pd.DataFrame) -> dict[str, float]:
    """Kendall's τ between the paper's values and our means: per setting with at least 3 rows, or,
    with one variant (a search space), over its settings ("settings")."""
    rows = table.dropna(subset=["ours"])
    groups = [("settings", rows)] if rows["variant"].nunique() == 1 else rows.groupby("setting", sort=False)
    return {str(name): float(stats.kendalltau(part["paper"], part["ours"]).statistic)
            for name, part in groups if len(part) >= 3}


def verdict(row: pd.Series) -> str:
    """What the row's difference says beside the paper's, in words."""
    if pd.isna(row["paper_delta"]):
        return ""
    if row["same_sign"] is None or pd.isna(row["same_sign"]):
        sign = "no direction to compare"
    else:
        sign = "the paper's sign" if row["same_sign"] else "the opposite sign"
    if row["told_apart"]:
        return f"{sign}, told apart"
    needed = row["seeds_needed"]
    if needed is None or pd.isna(needed):
        return f"{sign}, needs more seeds (no power estimate: no spread or no difference)"
    return f"{sign}, needs more seeds (~{int(needed)} for 80% power)"


def paper_markdown_table(exp: Experiment, table: pd.DataFrame) -> pd.DataFrame:
    """The table as summary.md and report.html show it."""
    paper = exp.sweep.paper
    assert paper is not None
    metric = paper_metric(exp, paper)
    out = pd.DataFrame({
        "paper": table["paper"].map(fmt),
        f"ours ({metric})": [f"{cell(m, h)} [{n}]" for m, h, n in
                             zip(table["ours"], table["ours_ci95"], table["n_seeds"], strict=True)],
        "paper Δ": table["paper_delta"].map(lambda v: "" if pd.isna(v) else f"{v:+.2f}"),
        "ours Δ (paired)": [("" if pd.isna(m) else cell(m, h)) for m, h in
                            zip(table["ours_delta"], table["ours_delta_ci95"], strict=True)],
        "p": table["p_value"].map(lambda v: "" if pd.isna(v) else fmt(v)),
        "reading": [verdict(r) for _, r in table.iterrows()],
    })
    one_setting = set(table["setting"]) == {"all"}
    labels = table["variant"] if one_setting else table["variant"] + " @ " + table["setting"]
    out.index = pd.Index(labels, name="row")
    return out


def paper_line(exp: Experiment, table: pd.DataFrame) -> str:
    """The report's one line about the paper: signs agreeing, differences told apart, orderings."""
    paper = exp.sweep.paper
    assert paper is not None
    deltas = table.dropna(subset=["paper_delta"])
    comparable = deltas[deltas["same_sign"].notna()]
    agree = int(comparable["same_sign"].astype(bool).sum())
    told = int(deltas["told_apart"].astype(bool).sum()) if len(deltas) else 0
    parts = [f"beside the paper ({paper.source}; {paper.setting})"]
    if len(deltas):
        parts.append(f"{agree} of {len(comparable)} differences to {next(iter(paper.values))} have the "
                     f"paper's sign, {told} of {len(deltas)} told apart by our 95% CI")
    taus = orderings(table)
    if taus:
        parts.append("ordering as the paper's: Kendall τ " + ", ".join(
            f"{tau:+.2f}" + (f" ({s})" if s != "all" else "") for s, tau in taus.items()))
    return "; ".join(parts)
