"""Suspicious seeds: trials whose objective lies far outside the other seeds of their row, or
that ended at chance level, so that a mean is never published with a collapsed run silently
inside it. The trials stay in the means; the tables and the sweep's last lines name them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from raycil.report.loading import Experiment
from raycil.report.stats import listed_settings

# the modified z-score of Iglesias & Hoaglin (1993): (x - median) / (1.4826 MAD) beyond 3.5 is an
# outlier. The MAD is floored at one percentage point, so that seeds which agree to a few
# tenths do not make a difference of two points look extreme (below 5.2 points nothing is flagged).
OUTLIER_Z = 3.5
MAD_FLOOR = 1.0
MIN_ROW = 3          # fewer seeds in a row: no median to stand out from
CHANCE_FACTOR = 1.5  # last accuracy at most 1.5 x chance (100 / classes seen) is "at chance"

RULE = (f"a trial is flagged when its objective lies more than {OUTLIER_Z} robust SDs from its row's "
        f"median (1.4826 x MAD, the MAD floored at {MAD_FLOOR:g} point; rows of {MIN_ROW}+ seeds), its last "
        f"accuracy is at most {CHANCE_FACTOR:g} x chance (100 / classes seen), or its objective is NaN")


def suspicious_seeds(exp: Experiment) -> pd.DataFrame:
    """One row per flagged complete trial: its identity, objective, its row's median and the reason."""
    metric = exp.sweep.objective.metric
    done = exp.done
    columns = ["trial_id", *exp.groups, "seed", metric, "row_median", "reason"]
    if done.empty or metric not in done:
        return pd.DataFrame(columns=columns)
    reasons: dict[str, list[str]] = {t: [] for t in done.index}
    medians: dict[str, float] = {}
    rows = done.groupby(exp.groups, sort=False, dropna=False) if listed_settings(exp) else []
    for _, row in rows:
        values = row[metric].astype(float)
        finite = values.dropna()
        if len(finite) < MIN_ROW:
            continue
        median = float(finite.median())
        scale = 1.4826 * max(float((finite - median).abs().median()), MAD_FLOOR)
        for trial, value in values.items():
            medians[trial] = median
            z = (value - median) / scale
            if abs(z) > OUTLIER_Z:
                reasons[trial].append(f"{z:+.1f} robust SDs from its row's median {median:.2f}")
    for trial, final in done.iterrows():
        value = float(final[metric])
        if math.isnan(value):
            reasons[trial].append(f"{metric} is NaN")
        chance = 100.0 / float(final["classes"]) if "classes" in final and final["classes"] else np.nan
        if float(final.get("last_acc", np.nan)) <= CHANCE_FACTOR * chance:
            reasons[trial].append(f"last accuracy {final['last_acc']:.2f} at chance level ({chance:.2f})")
    flagged = [{"trial_id": t, **{k: done.at[t, k] for k in exp.groups}, "seed": done.at[t, "seed"],
                metric: done.at[t, metric], "row_median": medians.get(t, math.nan), "reason": "; ".join(why)}
               for t, why in reasons.items() if why]
    return pd.DataFrame(flagged, columns=columns)
