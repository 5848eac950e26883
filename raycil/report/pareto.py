"""A sweep with several ``objectives``: every variant x setting's mean and 95% CI over seeds of
each objective, the Pareto front of those means (``pareto.csv``), and its picture
(``plots/pareto.png``): the first objective's test counterpart against each other objective, the
front chosen on the objectives as ranked (validation data for accuracies) drawn as a line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from raycil.report.loading import Experiment
from raycil.report.stats import mean_ci
from raycil.report.tables import setting_label
from raycil.sweep.settings import Objective

BYTES_PER_MB = 1e6


def dominated(points: np.ndarray, better: np.ndarray) -> np.ndarray:
    """Which rows of ``points`` another row dominates (at least as good in every column and
    better in one); ``better`` per column: +1 for max, -1 for min. NaN rows are dominated."""
    signed = points * better
    out = np.isnan(signed).any(axis=1)
    for i, p in enumerate(signed):
        if out[i]:
            continue
        others = signed[~np.isnan(signed).any(axis=1)]
        out[i] = bool(((others >= p).all(axis=1) & (others > p).any(axis=1)).any())
    return out


def _columns(objective: Objective) -> list[str]:
    return [objective.key] + ([objective.metric] if objective.metric != objective.key else [])


def pareto_table(exp: Experiment) -> pd.DataFrame:
    """One row per variant x setting of the complete trials: mean and CI half-width of every
    objective as ranked (and of its test counterpart), seeds, and ``on_front``."""
    objectives = exp.sweep.ranked
    keys = [k for o in objectives for k in _columns(o)]
    rows = []
    for group, part in exp.done.groupby(exp.groups, sort=False, dropna=False):
        values = group if isinstance(group, tuple) else (group,)
        row: dict[str, Any] = dict(zip(exp.groups, values, strict=True))
        row["setting"] = setting_label(pd.Series(row), [k for k in exp.groups if k != "variant"])
        for key in dict.fromkeys(keys):
            mean, half, _ = mean_ci(part[key] if key in part else [])
            row.update({f"{key}_mean": mean, f"{key}_ci95": half})
        row["n_seeds"] = len(part)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    means = table[[f"{o.key}_mean" for o in objectives]].to_numpy(dtype=float)
    better = np.array([1.0 if o.mode == "max" else -1.0 for o in objectives])
    table["on_front"] = ~dominated(means, better)
    return table


def _scale(key: str) -> tuple[float, str]:
    return (BYTES_PER_MB, f"{key} (MB)") if "bytes" in key else (1.0, key)


def pareto_plot(exp: Experiment, table: pd.DataFrame, path: Path) -> Path | None:
    """Per objective after the first, a column of two panels, x that objective: above, the first
    objective as ranked (validation data for an accuracy) with the front joined by a line; below,
    its test counterpart, the front's settings filled. Error bars: 95% CIs over seeds."""
    import matplotlib.pyplot as plt

    objectives = exp.sweep.ranked
    if table.empty:
        return None
    first, others = objectives[0], objectives[1:]
    rows = list(dict.fromkeys([first.key, first.metric]))
    fig, axes = plt.subplots(len(rows), len(others), figsize=(5.6 * len(others), 3.6 * len(rows)),
                             layout="constrained", squeeze=False, sharex="col")
    variants = list(dict.fromkeys(table["variant"]))
    colours = {v: plt.cm.tab10(i % 10) for i, v in enumerate(variants)}
    for col, objective in enumerate(others):
        scale, label = _scale(objective.key)
        for r, y_key in enumerate(rows):
            ax = axes[r][col]
            for variant in variants:
                part = table[table["variant"] == variant]
                for on_front, face in ((True, colours[variant]), (False, "white")):
                    pts = part[part["on_front"] == on_front]
                    ax.errorbar(pts[f"{objective.key}_mean"] / scale, pts[f"{y_key}_mean"],
                                xerr=pts[f"{objective.key}_ci95"].fillna(0) / scale,
                                yerr=pts[f"{y_key}_ci95"].fillna(0), fmt="o", capsize=3,
                                color=colours[variant], markerfacecolor=face, label=variant)
                for xi, yi, text in zip(part[f"{objective.key}_mean"] / scale, part[f"{y_key}_mean"],
                                        part["setting"], strict=True):
                    if text != "all":
                        ax.annotate(text, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=6)
            if r == 0:
                front = table[table["on_front"]].sort_values(f"{objective.key}_mean")
                ax.plot(front[f"{objective.key}_mean"] / scale, front[f"{y_key}_mean"], "--", color="grey",
                        lw=1, label="Pareto front")
            where = "test" if y_key == first.metric and first.key != first.metric else "as ranked"
            ax.set_ylabel(f"{y_key} (%, {where})")
            handles, labels = ax.get_legend_handles_labels()
            unique = dict(zip(labels, handles, strict=True))
            ax.legend(unique.values(), unique.keys(), fontsize=7, loc="best")
        axes[-1][col].set_xlabel(label)
    keys = ", ".join(f"{o.mode} {o.key}" for o in objectives)
    fig.suptitle(f"{exp.sweep.name}: Pareto front on ({keys})\nfilled: on the front; mean and 95% CI over "
                 "seeds", fontsize=9)
    fig.savefig(path.with_suffix(".png"), dpi=120)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
    return path.with_suffix(".png")


def front_line(table: pd.DataFrame, exp: Experiment) -> str:
    """The one line a sweep prints about its front."""
    if table.empty:
        return "Pareto front: no complete trial yet"
    names = [f"{r['variant']}{'' if r['setting'] == 'all' else ' ' + r['setting']}"
             for _, r in table[table["on_front"]].iterrows()]
    keys = ", ".join(f"{o.mode} {o.key}" for o in exp.sweep.ranked)
    return f"Pareto front ({keys}; means over seeds): {len(names)} of {len(table)}: " + "; ".join(names)

