"""Statistics over seeds: means with 95% t-intervals, the per-setting summary, and paired
differences between variants, through scipy's own test results."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from raycil.report.loading import Experiment

SUMMARY = (("avg_inc_acc", "avg. incremental accuracy"), ("last_acc", "last accuracy"),
           ("old_acc", "last old-class accuracy"), ("forgetting", "forgetting"),
           ("avg_forgetting", "avg. forgetting (all old groups)"),
           ("avg_imbalance", "avg. imbalance score"),
           ("val_avg_inc_acc", "validation avg. incremental accuracy"))


def _finite(values: Any) -> np.ndarray:
    x = np.asarray([v for v in values if v is not None], dtype=float)
    return x[~np.isnan(x)]


def _t_test(test: Any, *samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """(half-width of the confidence interval, p-value) of a scipy t-test on ``samples`` (scipy
    warns of precision loss on samples equal but for rounding; its result stands)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = test(*samples)
        ci = result.confidence_interval(confidence)
    return float((ci.high - ci.low) / 2), float(result.pvalue)


def mean_ci(values: Any, confidence: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of the two-sided Student-t confidence interval of the mean
    (``scipy.stats.ttest_1samp(...).confidence_interval``), and n (NaN dropped); NaN half for n < 2."""
    x = _finite(values)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, 0
    if n == 1:
        return float(x[0]), math.nan, 1
    if np.ptp(x) == 0:
        return float(x[0]), 0.0, n
    half, _ = _t_test(lambda x: stats.ttest_1samp(x, 0.0), x, confidence=confidence)
    return float(x.mean()), half, n


def paired_test(treated: Any, baseline: Any, confidence: float = 0.95) -> tuple[float, float, int, float]:
    """Mean of ``treated - baseline`` over pairs, its t-interval half-width, n and the paired
    t-test's p-value (``scipy.stats.ttest_rel``); NaN where undefined (n < 2, identical differences)."""
    a, b = np.asarray(treated, dtype=float), np.asarray(baseline, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    diff = a - b
    n = len(diff)
    if n == 0:
        return math.nan, math.nan, 0, math.nan
    if n == 1 or np.ptp(diff) == 0:
        return float(diff.mean()), (math.nan if n == 1 else 0.0), n, math.nan
    half, p = _t_test(stats.ttest_rel, a, b, confidence=confidence)
    return float(diff.mean()), half, n, p


def seeds_for_power(mean_diff: float, sd_diff: float, power: float = 0.8, alpha: float = 0.05,
                    most: int = 1000) -> int | None:
    """The fewest seeds at which a two-sided paired t-test at ``alpha`` detects a mean paired
    difference ``mean_diff`` with differences of standard deviation ``sd_diff`` with probability
    ``power`` (the noncentral t distribution, ``scipy.stats.nct``); None if undefined or beyond
    ``most``."""
    if not (math.isfinite(mean_diff) and math.isfinite(sd_diff)) or mean_diff == 0 or sd_diff <= 0:
        return None
    effect = abs(mean_diff) / sd_diff
    for n in range(2, most + 1):
        df, crit = n - 1, stats.t.ppf(1 - alpha / 2, n - 1)
        shift = effect * math.sqrt(n)
        if stats.nct.sf(crit, df, shift) + stats.nct.cdf(-crit, df, shift) >= power:
            return n
    return None


def summarize(exp: Experiment) -> pd.DataFrame:
    """One row per variant x parameter setting over the complete trials (seeds as samples)."""
    out = []
    for key, group in exp.done.groupby(exp.groups, sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(exp.groups, key, strict=True))
        for metric, _ in SUMMARY:  # the final phase's row: old_acc is the last phase's
            mean, half, _n = mean_ci(group[metric] if metric in group else [])
            row.update({f"{metric}_mean": mean, f"{metric}_ci95": half})
        row["n_seeds"] = len(group)
        out.append(row)
    columns = [f"{m}_{part}" for m, _ in SUMMARY for part in ("mean", "ci95")]
    return pd.DataFrame(out, columns=[*exp.groups, *columns, "n_seeds"])


def listed_settings(exp: Experiment) -> bool:
    """Every swept parameter takes listed values (grid / choice), so settings repeat across seeds."""
    return all(spec.kind in ("grid", "choice") for spec in exp.sweep.search_space.values())


def paired_differences(exp: Experiment) -> pd.DataFrame:
    """For an ablation (variants, optionally crossed with listed parameter values, e.g. the number
    of phases): every variant's objective minus the first variant's at the same setting, paired
    by seed (a seed fixes data, class order and initialisation, so pairing removes the
    seed-to-seed spread): mean ± 95% t-interval of the differences and the paired t-test p-value
    (:func:`paired_test`), one row per variant after the first and setting."""
    metric = exp.sweep.objective.metric
    done = exp.done
    names = list(dict.fromkeys(done["variant"]))
    columns = ["variant", *exp.params, "delta_mean", "delta_ci95", "n_pairs", "p_value"]
    if not listed_settings(exp) or len(names) < 2 or metric not in done:
        return pd.DataFrame(columns=columns)
    settings = done.groupby(exp.params, sort=True, dropna=False) if exp.params else [((), done)]
    rows = []
    for key, part in settings:
        setting = dict(zip(exp.params, key, strict=True))
        by_seed = part.pivot_table(index="seed", columns="variant", values=metric)
        for name in names[1:]:
            if name not in by_seed or names[0] not in by_seed:
                continue
            mean, half, n, p = paired_test(by_seed[name], by_seed[names[0]])
            rows.append({"variant": name, **setting, "delta_mean": mean, "delta_ci95": half, "n_pairs": n,
                         "p_value": p})
    return pd.DataFrame(rows, columns=columns)
