"""Paper-style markdown tables: the summary (mean ± 95% CI over seeds), the paired differences
to the first variant, and the suspicious seeds."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from raycil.report.flags import RULE, suspicious_seeds
from raycil.report.loading import Experiment
from raycil.report.stats import SUMMARY, paired_differences
from raycil.sweep.settings import SweepConfig


def cell(mean: float, half: float) -> str:
    """``mean ± half`` with two decimals (``-`` for none, the mean alone for one seed)."""
    if math.isnan(mean):
        return "-"
    return f"{mean:.2f}" if math.isnan(half) else f"{mean:.2f} ± {half:.2f}"


def fmt(v: Any) -> str:
    """A setting or p-value as printed: 4 significant digits, ``-`` for NaN."""
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def setting_label(row: pd.Series, keys: list[str]) -> str:
    return ", ".join(f"{k}={fmt(row[k])}" for k in keys) if keys else "all"


def markdown(table: pd.DataFrame) -> str:
    cols = [str(c) for c in table.columns]
    lines = ["| " + " | ".join([str(table.index.name or "")] + cols) + " |",
             "|" + "---|" * (len(cols) + 1)]
    lines += ["| " + " | ".join([str(i)] + [str(v) for v in r]) + " |" for i, r in table.iterrows()]
    return "\n".join(lines)


def flag_counts(exp: Experiment, summary: pd.DataFrame, flagged: pd.DataFrame) -> list[int]:
    """Per summary row, how many of its trials are flagged."""
    if flagged.empty:
        return [0] * len(summary)
    keys = flagged[exp.groups].astype(str).agg("|".join, axis=1)
    return [int((keys == "|".join(str(r[k]) for k in exp.groups)).sum()) for _, r in summary.iterrows()]


def summary_tables(exp: Experiment, summary: pd.DataFrame,
                   flagged: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) pairs of cells ``mean ± half-width``. With one setting per variant, or
    sampled values: one table, a row per variant (setting), the metrics as columns, then the
    number of seeds and of flagged seeds. With listed settings crossed (variants, grid/choice
    values): one table per metric, variants (or the first swept parameter) as rows, the other
    settings as columns, cells ``mean ± half-width [n seeds, k flagged]``. A metric no trial
    reports (e.g. the accuracy matrix's in a sweep from before it) is left out."""
    several = summary["variant"].nunique() > 1
    keys = [k for k in exp.groups if k != "variant" or several or not exp.params]
    n_flagged = flag_counts(exp, summary, flagged)
    metrics = [(m, title) for m, title in SUMMARY if summary[f"{m}_mean"].notna().any()]
    row_key, col_keys = keys[0], keys[1:]
    sampled = any(spec.kind not in ("grid", "choice") for spec in exp.sweep.search_space.values())
    if sampled or not col_keys:  # one row per setting: the metrics as columns, then seeds and flags
        table = pd.DataFrame({title: [cell(r[f"{m}_mean"], r[f"{m}_ci95"]) for _, r in summary.iterrows()]
                              for m, title in metrics})
        table["seeds"] = summary["n_seeds"].to_numpy()
        if any(n_flagged):
            table["flagged"] = n_flagged
        if sampled:
            table.index = pd.Index(summary.apply(lambda r: setting_label(r, keys), axis=1), name="setting")
        else:
            table.index = pd.Index(summary[row_key].map(fmt), name=row_key)
        return [("", table)]
    marks = [f", {k} flagged" if k else "" for k in n_flagged]
    cells = {title: [f"{cell(r[f'{m}_mean'], r[f'{m}_ci95'])} [{r['n_seeds']}{mark}]"
                     for (_, r), mark in zip(summary.iterrows(), marks, strict=True)]
             for m, title in metrics}
    rows = summary[row_key].map(fmt)
    cols = summary.apply(lambda r: setting_label(r, col_keys), axis=1)
    out = []
    for title, values in cells.items():
        frame = pd.DataFrame({"r": rows, "c": cols, "v": values}).pivot(index="r", columns="c", values="v")
        frame = frame.reindex(index=rows.unique(), columns=cols.unique()).fillna("-")
        frame.index.name = row_key
        out.append((title, frame))
    return out


def paired_table(exp: Experiment, paired: pd.DataFrame, first: str) -> pd.DataFrame:
    """Variants as rows; without swept parameters the Δ and p columns, with them one column per
    setting whose cells read ``Δ ± CI [pairs] p=…``."""
    deltas = [f"{cell(m, h)} [{n}]" for m, h, n in
              zip(paired["delta_mean"], paired["delta_ci95"], paired["n_pairs"], strict=True)]
    pvalues = [fmt(p) for p in paired["p_value"]]
    if not exp.params:
        title = f"Δ {exp.sweep.objective.metric} vs {first}"
        table = pd.DataFrame({title: deltas, "paired t-test p": pvalues}, index=paired["variant"])
    else:
        cells = pd.DataFrame({"variant": paired["variant"],
                              "setting": paired.apply(lambda r: setting_label(r, exp.params), axis=1),
                              "cell": [f"{d} p={p}" for d, p in zip(deltas, pvalues, strict=True)]})
        table = cells.pivot(index="variant", columns="setting", values="cell")
        table = table.reindex(index=cells["variant"].unique(), columns=cells["setting"].unique())
    table.index.name = "variant"
    return table


def flagged_table(exp: Experiment, flagged: pd.DataFrame) -> pd.DataFrame:
    metric = exp.sweep.objective.metric
    table = flagged.assign(**{metric: flagged[metric].map(fmt), "row_median": flagged["row_median"].map(fmt)})
    return table.set_index("trial_id")


def objective_line(sweep: SweepConfig) -> str:
    """What the sweep's choices were made on: validation data, or test data (an oracle's)."""
    o = sweep.objective
    if sweep.objectives is not None:
        return ("Objectives (a Pareto front, pareto.csv): " + "; ".join(x.label() for x in sweep.objectives)
                + ".")
    if not sweep.chooses:
        return f"Objective: {o.mode} {o.metric} (fixed variants: no setting is chosen)."
    return f"Objective: {o.label()}, ranked as {o.key}."


def summary_markdown(exp: Experiment, summary: pd.DataFrame, flagged: pd.DataFrame | None = None) -> str:
    """``summary.md``: the header, the summary tables, the paired differences to the first
    variant and the suspicious seeds (:func:`~raycil.report.flags.suspicious_seeds` if not given)."""
    if flagged is None:
        flagged = suspicious_seeds(exp)
    s = exp.sweep
    lines = [f"# {s.name}", "", objective_line(s) + " Cells: test data, mean ± half-width of the 95% "
             "t-interval over seeds; the number of seeds (and of flagged ones) beside them or in brackets."]
    skipped = int((~exp.final["complete"]).sum())
    if skipped:
        lines.append(f"{skipped} trial(s) stopped early, failed or unfinished are left out of the tables.")
    if summary.empty:
        return "\n".join([*lines, "", "No trial has finished all its phases yet."])
    for title, table in summary_tables(exp, summary, flagged):
        lines += ["", f"## {title}", "", markdown(table)] if title else ["", markdown(table)]
    paired = paired_differences(exp)
    if not paired.empty:
        first = summary["variant"].iloc[0]
        table = markdown(paired_table(exp, paired, first))
        lines += ["", f"## difference to {first}, paired by seed", "", table]
    if not flagged.empty:
        lines += ["", "## suspicious seeds", "", f"Kept in the means above; {RULE}.", "",
                  markdown(flagged_table(exp, flagged))]
    return "\n".join(lines)


def flags_line(exp: Experiment, flagged: pd.DataFrame, listed: int = 6) -> str:
    """The sweep's one closing line about suspicious seeds: how many and why, the first
    ``listed`` of them by name (the reasons are in summary.md and report.html)."""
    if flagged.empty:
        return "suspicious seeds: none (" + RULE + ")"
    why = {"far from their row's median": "robust SDs", "at chance level": "at chance", "NaN": "is NaN"}
    kinds = ", ".join(f"{int(flagged['reason'].str.contains(key).sum())} {name}" for name, key in why.items()
                      if flagged["reason"].str.contains(key).any())
    keys = [k for k in exp.groups if k != "variant"]
    names = [f"{r['variant']}{''.join(f' {k}={fmt(r[k])}' for k in keys)} seed {r['seed']}"
             for _, r in flagged.head(listed).iterrows()]
    more = f" and {len(flagged) - listed} more" if len(flagged) > listed else ""
    return (f"suspicious seeds: {len(flagged)} of {len(exp.done)} complete trials ({kinds}): "
            f"{', '.join(names)}{more}; kept in the means, reasons in summary.md and report.html")
