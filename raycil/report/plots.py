"""The sweep's plots (``plots/``, each as PNG and SVG), drawn as the CIL papers draw them:

- ``accuracy_vs_classes``: top-1 accuracy vs the number of classes learned, one panel per class
  schedule (protocol), one line per variant (x setting), mean and 95% CI band over seeds;
- ``old_new_accuracy``: old-class (dashed) and new-class (solid) accuracy vs classes learned;
- ``accuracy_matrix``: per variant, the accuracy on the classes of phase g after phase p;
- ``sensitivity``: the objective vs each swept hyperparameter (CIM supplementary Figure S3).

Only complete trials are drawn. A plot whose columns a sweep folder lacks (``classes``,
``group{g}_acc`` in sweeps written before they were reported) is left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, NullFormatter

from raycil.report.loading import Experiment
from raycil.report.stats import SUMMARY, mean_ci
from raycil.report.tables import fmt, setting_label

DPI = 120
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*", "d")
LINESTYLES = ("-", "--", "-.", ":")
MAX_LINES = 12          # lines per panel above which each variant keeps only its best setting
LEGEND_ROWS = 20        # legend entries per legend column
PANEL = (4.8, 3.6)      # inches per panel
LOG_KINDS = ("loguniform", "qloguniform", "lograndint")
LISTED_KINDS = ("grid", "choice")
MAX_BINS = 8
METRIC_NAMES = {**dict(SUMMARY), "top1": "top-1 accuracy", "top5": "top-5 accuracy",
                "old_acc": "last old-class accuracy", "new_acc": "last new-class accuracy",
                "first_acc": "first-phase classes' accuracy", "imbalance": "last imbalance score"}


@dataclass(frozen=True)
class Style:
    color: Any
    marker: str
    linestyle: str


@dataclass
class Line:
    """One drawn line: its legend label, variant and the phase rows of its trials (which differ
    only by seed)."""

    label: str
    variant: str
    rows: pd.DataFrame


def styles(n: int) -> list[Style]:
    """``n`` distinct styles: tab10 colours up to 10, tab20 up to 20, else evenly spaced colours
    of a continuous colormap; markers cycle through 13, then the line style changes."""
    import matplotlib

    if n <= 10:
        colors = list(matplotlib.colormaps["tab10"].colors)[:n]
    elif n <= 20:
        colors = list(matplotlib.colormaps["tab20"].colors)[:n]
    else:
        colors = [tuple(c) for c in matplotlib.colormaps["turbo"](np.linspace(0.03, 0.97, n))]
    return [Style(colors[i], MARKERS[i % len(MARKERS)], LINESTYLES[i // len(MARKERS) % len(LINESTYLES)])
            for i in range(n)]


def style_map(labels: Sequence[str]) -> dict[str, Style]:
    """A style per distinct label, in order of first appearance."""
    unique = list(dict.fromkeys(labels))
    return dict(zip(unique, styles(len(unique)), strict=True))


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def metric_bounds(metric: str) -> tuple[float, float]:
    """The range of a metric in percent (forgetting, a difference of accuracies, can be negative)."""
    return (-100.0, 100.0) if "forgetting" in metric else (0.0, 100.0)


# ---------------------------------------------------------------- selecting trials and lines

def complete_rows(exp: Experiment) -> pd.DataFrame:
    """The phase rows of the complete trials, by trial and phase."""
    rows = exp.rows[exp.rows["trial_id"].isin(exp.done.index)]
    return rows.sort_values(["trial_id", "phase"], kind="stable")


def protocols(rows: pd.DataFrame) -> list[tuple[tuple[int, ...], pd.DataFrame]]:
    """The rows split by class schedule (each trial's sequence of ``classes`` counts), in order
    of first appearance: trials of different schedules are never drawn or averaged together.
    Trials missing a class count are left out."""
    trials: dict[tuple[int, ...], list[str]] = {}
    for trial, counts in rows.groupby("trial_id", sort=False)["classes"]:
        if counts.notna().all():
            trials.setdefault(tuple(int(c) for c in counts), []).append(trial)
    return [(schedule, rows[rows["trial_id"].isin(ids)]) for schedule, ids in trials.items()]


def schedule_label(schedule: Sequence[int]) -> str:
    """E.g. ``10 + 5×2 classes (6 phases)`` (the class counts when the steps differ)."""
    n = len(schedule)
    steps = set(np.diff(schedule))
    if n == 1:
        return f"{schedule[0]} classes (1 phase)"
    if len(steps) == 1:
        return f"{schedule[0]} + {n - 1}×{steps.pop()} classes ({n} phases)"
    return ", ".join(map(str, schedule)) + f" classes ({n} phases)"


def varying(exp: Experiment, rows: pd.DataFrame) -> list[str]:
    """The swept parameters that take several values among ``rows``."""
    return [k for k in exp.params if k in rows and rows[k].nunique(dropna=False) > 1]


def best_setting(exp: Experiment, rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The rows of the setting of ``keys`` with the best mean objective over its trials."""
    objective = exp.sweep.objective
    finals = exp.final.loc[list(dict.fromkeys(rows["trial_id"]))]
    means = finals.groupby(keys, sort=False, dropna=False)[objective.key].mean()
    best = means.idxmax() if objective.mode == "max" else means.idxmin()
    best = best if isinstance(best, tuple) else (best,)
    keep = finals.index[(finals[keys] == pd.Series(best, index=keys)).all(axis=1)]
    return rows[rows["trial_id"].isin(keep)]


def merge_identical(drawn: list[Line], metrics: Sequence[str], by: Sequence[str]) -> list[Line]:
    """Lines whose rows, ordered ``by`` (e.g. seed and phase), hold the same ``by`` and ``metrics``
    values (e.g. variants that differ only in a setting without effect) drawn once, their labels
    joined by `` = ``."""
    merged: dict[str, Line] = {}
    for line in drawn:
        key = line.rows.sort_values(list(by))[[*by, *metrics]].round(9).to_csv(index=False)
        if key in merged:
            merged[key].label += f" = {line.label}"
        else:
            merged[key] = Line(line.label, line.variant, line.rows)
    return list(merged.values())


def lines(exp: Experiment, rows: pd.DataFrame, max_lines: int = MAX_LINES) -> tuple[list[Line], str]:
    """The lines of one protocol's rows: one per variant x setting of the swept parameters that
    vary there, or, above ``max_lines``, one per variant at its best setting by mean objective
    (the returned note says so)."""
    keys = varying(exp, rows)
    several = rows["variant"].nunique() > 1
    groups = rows.groupby(["variant", *keys], sort=False, dropna=False)
    if not keys or groups.ngroups <= max_lines:
        out = []
        for key, part in groups:
            label = str(key[0])
            if keys:
                setting = setting_label(part.iloc[0], keys)
                label = f"{label}: {setting}" if several else setting
            out.append(Line(label, str(key[0]), part))
        return out, ""
    out = []
    for variant, part in rows.groupby("variant", sort=False):
        part = best_setting(exp, part, keys)
        label = f"{variant} (best: {setting_label(part.iloc[0], keys)})"
        out.append(Line(label, str(variant), part))
    return out, f"each variant at its best setting by mean {exp.sweep.objective.key}"


@dataclass
class Panel:
    """One protocol's panel: its title, class schedule and lines."""

    title: str
    schedule: tuple[int, ...]
    lines: list[Line]


def protocol_panels(exp: Experiment, metrics: Sequence[str]) -> list[Panel]:
    """One panel per protocol of the complete trials (none without ``classes`` or ``metrics``),
    titled by its class schedule and the swept settings that set it apart from the others."""
    rows = complete_rows(exp)
    if not {"classes", *metrics} <= set(rows):
        return []
    split = varying(exp, rows)
    panels = []
    for schedule, part in protocols(rows):
        drawn, note = lines(exp, part)
        apart = [k for k in split if k not in varying(exp, part)]
        head = schedule_label(schedule) + (f"; {setting_label(part.iloc[0], apart)}" if apart else "")
        title = "\n".join(s for s in (head, note) if s)
        panels.append(Panel(title, schedule, merge_identical(drawn, metrics, ["seed", "phase"])))
    return panels


# ---------------------------------------------------------------- figures and layout

def new_figure(n_panels: int, legend: Sequence[str] = (), panel: tuple[float, float] = PANEL,
               max_cols: int = 3) -> tuple[Figure, list[Any]]:
    """A constrained-layout figure of ``n_panels`` panels (at most ``max_cols`` a row) whose size
    grows with the panels and leaves room for a legend of ``legend`` entries at the right."""
    cols = min(n_panels, max_cols)
    rows = math.ceil(n_panels / cols)
    legend_cols = math.ceil(len(legend) / LEGEND_ROWS) if legend else 0
    longest = max((len(s) for s in legend), default=0)
    legend_width = legend_cols * (0.7 + 0.075 * longest) if legend else 0.0
    legend_height = 0.8 + 0.24 * min(len(legend), LEGEND_ROWS)
    fig = Figure(figsize=(cols * panel[0] + legend_width, max(rows * panel[1] + 0.5, legend_height)),
                 layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def outside_legend(fig: Figure, handles: list[Any], labels: list[str], title: str | None = None) -> Any:
    """The figure's legend at its right, outside every panel."""
    return fig.legend(handles, labels, loc="outside right upper", ncols=math.ceil(len(labels) / LEGEND_ROWS),
                      fontsize=8, title=title, title_fontsize=8, frameon=False)


def save(fig: Figure, out: Path, name: str) -> Path:
    """``out/name.png`` (dpi 120) and ``out/name.svg``; the PNG's path."""
    png = out / f"{name}.png"
    fig.savefig(png, dpi=DPI)
    fig.savefig(out / f"{name}.svg")
    return png


def style_line(style: Style) -> dict[str, Any]:
    return {"color": style.color, "marker": style.marker, "linestyle": style.linestyle}


def class_axis(ax: Any, schedule: Sequence[int]) -> None:
    """x: the number of classes learned, ticked at the schedule's counts when few."""
    if len(schedule) <= 12:
        ax.set_xticks(list(schedule))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of classes learned")
    ax.grid(alpha=0.3)


# ---------------------------------------------------------------- accuracy vs classes learned

def curve(rows: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (classes learned), mean and 95% CI half-width over the trials of ``metric`` at each x."""
    xs, means, halves = [], [], []
    for x, part in rows.groupby("classes", sort=True):
        mean, half, _ = mean_ci(part[metric])
        xs.append(float(x))
        means.append(mean)
        halves.append(half)
    return np.array(xs), np.array(means), np.array(halves)


def draw_band(ax: Any, x: np.ndarray, mean: np.ndarray, half: np.ndarray, style: Style, label: str,
              bounds: tuple[float, float] = (0.0, 100.0), n_lines: int = 1) -> None:
    """The mean as a line and, where defined (two or more samples), its 95% CI as a band clipped
    to the metric's ``bounds``, fainter the more lines share the panel."""
    ax.plot(x, mean, label=label, markersize=5, **style_line(style))
    if np.isfinite(half).any():
        low, high = np.clip(mean - half, *bounds), np.clip(mean + half, *bounds)
        ax.fill_between(x, low, high, color=style.color, alpha=max(0.05, 0.25 / math.sqrt(n_lines)),
                        linewidth=0)


def accuracy_figure(exp: Experiment) -> Figure | None:
    """Top-1 accuracy (%) vs classes learned, one panel per protocol (class schedule), one line
    per variant (x setting) with its mean and 95% CI band over seeds."""
    panels = protocol_panels(exp, ["top1"])
    if not panels:
        return None
    palette = style_map([line.label for panel in panels for line in panel.lines])
    fig, axes = new_figure(len(panels), list(palette))
    for ax, panel in zip(axes, panels, strict=True):
        for line in panel.lines:
            draw_band(ax, *curve(line.rows, "top1"), palette[line.label], line.label,
                      n_lines=len(panel.lines))
        class_axis(ax, panel.schedule)
        ax.set_ylabel("top-1 accuracy on the classes seen (%)")
        ax.set_title(panel.title, fontsize=9)
    handles = [Line2D([], [], markersize=5, **style_line(s)) for s in palette.values()]
    outside_legend(fig, handles, list(palette), title="mean, band: 95% CI over seeds")
    return fig


OLD_NEW = {"old_acc": ("old classes (earlier phases')", {"linestyle": "--", "markerfacecolor": "white"}),
           "new_acc": ("new classes (this phase's)", {"linestyle": "-"})}


def old_new_figure(exp: Experiment) -> Figure | None:
    """Old-class (dashed, hollow markers) and new-class (solid) accuracy (%) vs classes learned,
    mean over seeds, one panel per protocol, one colour and marker per line of :func:`lines`."""
    panels = protocol_panels(exp, list(OLD_NEW))
    if not panels:
        return None
    palette = style_map([line.label for panel in panels for line in panel.lines])
    kinds = [name for name, _ in OLD_NEW.values()]
    fig, axes = new_figure(len(panels), [*palette, *kinds])
    for ax, panel in zip(axes, panels, strict=True):
        for line in panel.lines:
            style = palette[line.label]
            for metric, (_, look) in OLD_NEW.items():
                x, mean, _ = curve(line.rows, metric)
                ax.plot(x, mean, color=style.color, marker=style.marker, markersize=5, **look)
        class_axis(ax, panel.schedule)
        ax.set_ylabel("old / new-class accuracy (%)")
        ax.set_title(panel.title, fontsize=9)
    handles = [Line2D([], [], color=s.color, marker=s.marker, linestyle="none") for s in palette.values()]
    handles += [Line2D([], [], color="0.3", marker="o", **look) for _, look in OLD_NEW.values()]
    outside_legend(fig, handles, [*palette, *kinds], title="mean over seeds")
    return fig


# ---------------------------------------------------------------- accuracy matrix

def accuracy_matrix(rows: pd.DataFrame) -> np.ndarray:
    """[g - 1, p - 1]: mean over the trials of ``group{g}_acc`` after phase p (NaN for g > p or
    where not reported)."""
    phases = int(rows["phases_total"].max())
    matrix = np.full((phases, phases), np.nan)
    for p, part in rows.groupby("phase"):
        for g in range(1, int(p) + 1):
            column = f"group{g}_acc"
            if column in part and part[column].notna().any():
                matrix[g - 1, int(p) - 1] = part[column].mean()
    return matrix


def draw_matrix(ax: Any, matrix: np.ndarray, title: str) -> Any:
    """The matrix as a heat map (0-100 %), each cell annotated, phase 1's classes at the bottom:
    the triangle above the diagonal (a phase's classes before that phase) left empty."""
    phases = len(matrix)
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap="viridis", vmin=0, vmax=100, aspect="equal",
                      origin="lower")
    size = max(4.5, 9 - phases / 2)
    for (g, p), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            ax.text(p, g, f"{value:.0f}" if phases > 6 else f"{value:.1f}", ha="center", va="center",
                    fontsize=size, color="white" if value < 60 else "black")
    ticks = np.arange(phases)
    ax.set_xticks(ticks, [str(t + 1) for t in ticks])
    ax.set_yticks(ticks, [str(t + 1) for t in ticks])
    ax.set_xlabel("after phase p")
    ax.set_ylabel("classes of phase g")
    ax.set_title(title, fontsize=9)
    return image


def matrix_figure(exp: Experiment) -> Figure | None:
    """Per variant the accuracy matrix, mean over complete seeds, of the first protocol (at the
    variant's best setting when other parameters are swept)."""
    rows = complete_rows(exp)
    if "classes" not in rows or "group1_acc" not in rows:
        return None
    found = protocols(rows)
    if not found:
        return None
    schedule, rows = found[0]
    variants = list(dict.fromkeys(rows["variant"]))
    side = min(max(3.2, 0.45 * len(schedule) + 1.6), 12.0)
    fig, axes = new_figure(len(variants), panel=(side, side), max_cols=max(1, int(16 // side)))
    keys = varying(exp, rows)
    for ax, variant in zip(axes, variants, strict=True):
        part = rows[rows["variant"] == variant]
        title = str(variant)
        if keys and part.groupby(keys, dropna=False).ngroups > 1:
            part = best_setting(exp, part, keys)
            title += f"\nbest: {setting_label(part.iloc[0], keys)}"
        image = draw_matrix(ax, accuracy_matrix(part), f"{title} [{part['trial_id'].nunique()} seeds]")
    fig.colorbar(image, ax=axes, shrink=0.6, label="accuracy (%), mean over seeds")
    protocol = schedule_label(schedule) + (f", the first of {len(found)} protocols" if len(found) > 1 else "")
    fig.suptitle(f"accuracy matrix: {protocol}", fontsize=10)
    return fig


# ---------------------------------------------------------------- sensitivity

@dataclass
class Points:
    """One variant's sensitivity line: x, mean, CI half-width and n per point."""

    x: list[Any]
    mean: list[float]
    half: list[float]
    n: list[int]


def points(groups: Any) -> Points:
    """Mean and 95% CI over each group's values, from (x, values) pairs."""
    out = Points([], [], [], [])
    for x, values in groups:
        mean, half, n = mean_ci(values)
        out.x.append(x)
        out.mean.append(mean)
        out.half.append(half)
        out.n.append(n)
    return out


def is_number(value: Any) -> bool:
    """A real number (booleans are not)."""
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def matches(values: pd.Series, target: Any) -> pd.Series:
    """``values == target``, numbers compared with a tolerance."""
    if is_number(target) and pd.api.types.is_numeric_dtype(values):
        return pd.Series(np.isclose(values.astype(float), float(target)), index=values.index)
    return values == target


def default_slice(exp: Experiment, finals: pd.DataFrame, key: str) -> pd.DataFrame | None:
    """The trials whose other swept parameters are at their defaults, if they take two or more
    values of ``key`` (None otherwise)."""
    keep = pd.Series(True, index=finals.index)
    for other in exp.params:
        if other != key:
            default = exp.default(other)
            if default is None:
                return None
            keep &= matches(finals[other], default)
    part = finals[keep]
    return part if part[key].nunique() >= 2 else None


def listed_points(exp: Experiment, finals: pd.DataFrame, key: str, metric: str) -> tuple[Points, str]:
    """Per listed value, the mean and 95% CI over seeds: at the other parameters' defaults when
    those trials exist, else each seed first averaged over the other parameters' values."""
    others = [k for k in exp.params if k != key]
    note = "band: 95% CI over seeds{n}"
    part = default_slice(exp, finals, key) if others else finals
    if part is not None and others:
        note += "; others at their defaults"
    elif part is None:
        part = finals
        over = ", ".join(others) if len(others) <= 2 else f"the other {len(others)} parameters"
        note += f"; each seed averaged over {over}"
    per_seed = part.groupby([key, "seed"], sort=True)[metric].mean()
    return points((x, per_seed.xs(x, level=key)) for x in per_seed.index.unique(level=key)), note


def binned_points(finals: pd.DataFrame, key: str, metric: str,
                  max_bins: int = MAX_BINS) -> tuple[Points, str]:
    """Sampled values: in quantile bins of about three trials or more (at most ``max_bins``; x: the
    bin's median), or per value when there are no more values than bins; mean and 95% CI over
    the trials there (whose other parameters and seeds differ)."""
    values = finals[key].astype(float)
    n_bins = min(max_bins, max(2, len(values) // 3))
    if values.nunique() <= n_bins:
        groups = [(x, part[metric]) for x, part in finals.groupby(key, sort=True)]
        return points(groups), "band: 95% CI over the trials at each value{n}"
    bins = pd.qcut(values, n_bins, duplicates="drop")
    groups = [(float(part[key].median()), part[metric]) for _, part in finals.groupby(bins, observed=True)]
    return points(groups), "quantile bins; band: 95% CI over the trials in each bin{n}"


def sensitivity_points(exp: Experiment, finals: pd.DataFrame, key: str) -> tuple[Points, str]:
    """The points of one variant's line and a note on its band (``{n}``: where n goes)."""
    metric = exp.sweep.objective.metric
    if exp.sweep.search_space[key].kind in LISTED_KINDS:
        return listed_points(exp, finals, key, metric)
    return binned_points(finals, key, metric)


def log_scale(kind: str, values: pd.Series) -> bool:
    """Log x for log-scaled domains, and for listed positive numbers spanning two decades or more."""
    numbers = pd.to_numeric(values, errors="coerce")
    if kind in LOG_KINDS:
        return True
    return kind in LISTED_KINDS and bool(numbers.notna().all() and numbers.min() > 0
                                         and numbers.max() >= 100 * numbers.min())


def mark_default(ax: Any, x: float) -> None:
    """A dashed vertical line labelled ``default`` at ``x``."""
    ax.axvline(x, color="0.35", linestyle="--", linewidth=1, zorder=1)
    ax.annotate("default", xy=(x, 1), xycoords=("data", "axes fraction"), xytext=(3, -3),
                textcoords="offset points", ha="left", va="top", fontsize=8, color="0.35")


def sensitivity_line(exp: Experiment, ax: Any, key: str, line: Line, style: Style, categories: list[str],
                     n_lines: int) -> str:
    """One line (and, for sampled values, its trials as dots); the note on its band."""
    metric, finals = exp.sweep.objective.metric, line.rows
    found, note = sensitivity_points(exp, finals, key)
    low, high = min(found.n), max(found.n)
    note = note.format(n=f" (n = {low})" if low == high else f" (n = {low}-{high})")
    x = [categories.index(str(v)) for v in found.x] if categories else [float(v) for v in found.x]
    order = np.argsort(x)
    x, mean, half = (np.asarray(a, dtype=float)[order] for a in (x, found.mean, found.half))
    draw_band(ax, x, mean, half, style, line.label, metric_bounds(metric), n_lines)
    if exp.sweep.search_space[key].kind not in LISTED_KINDS:
        ax.scatter(finals[key], finals[metric], s=8, alpha=0.35, color=style.color, linewidths=0)
    return note


def sensitivity_axis(exp: Experiment, ax: Any, key: str, categories: list[str]) -> None:
    """x: the parameter's values (log for log domains, the listed values ticked), the default
    marked; y: the objective in percent."""
    spec, values = exp.sweep.search_space[key], exp.done[key]
    log = log_scale(spec.kind, values)
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    if categories:
        ax.set_xticks(range(len(categories)), categories)
    elif spec.kind in LISTED_KINDS and len(spec.args) <= 10:
        ax.set_xticks(sorted(float(v) for v in spec.args), [fmt(v) for v in sorted(spec.args)])
    default = exp.default(key)
    if default is not None and (str(default) in categories if categories else is_number(default)):
        mark_default(ax, categories.index(str(default)) if categories else float(default))
    metric = exp.sweep.objective.metric
    ax.set_xlabel(key + (" (log scale)" if log else ""))
    ax.set_ylabel(f"{metric_name(metric)} (%)")
    ax.grid(alpha=0.3)


def sensitivity_panel(exp: Experiment, ax: Any, key: str, drawn: list[Line],
                      palette: dict[str, Style]) -> None:
    """The objective vs ``key``: one line per variant, the default marked, the title saying what
    the band is over."""
    spec = exp.sweep.search_space[key]
    values = exp.done[key].dropna()
    categories = [] if all(is_number(v) for v in values) else [str(v) for v in spec.args]
    notes = {sensitivity_line(exp, ax, key, line, palette[line.label], categories, len(drawn))
             for line in drawn}
    sensitivity_axis(exp, ax, key, categories)
    ax.set_title(f"{key} ({spec.kind})\n" + " | ".join(sorted(notes)), fontsize=8)


def sensitivity_figure(exp: Experiment) -> Figure | None:
    """One panel per swept hyperparameter: the objective's mean and 95% CI, one line per variant
    (variants of identical results merged; CIM Figure S3)."""
    metric = exp.sweep.objective.metric
    done = exp.done
    if not exp.params or metric not in done or done.empty:
        return None
    drawn = [Line(str(v), str(v), finals) for v, finals in done.groupby("variant", sort=False)]
    drawn = merge_identical(drawn, [metric], ["seed", *exp.params])
    palette = style_map([line.label for line in drawn])
    several = done["variant"].nunique() > 1
    fig, axes = new_figure(len(exp.params), list(palette) if several else ())
    for ax, key in zip(axes, exp.params, strict=True):
        sensitivity_panel(exp, ax, key, drawn, palette)
    if several:
        handles = [Line2D([], [], markersize=5, **style_line(s)) for s in palette.values()]
        outside_legend(fig, handles, list(palette), title="variant")
    return fig


# ---------------------------------------------------------------- all of them

FIGURES = (("accuracy_vs_classes", accuracy_figure), ("old_new_accuracy", old_new_figure),
           ("accuracy_matrix", matrix_figure), ("sensitivity", sensitivity_figure))


def plot_all(exp: Experiment, out: Path) -> list[Path]:
    """Every plot the sweep's columns allow into ``out`` as PNG and SVG (the PNG paths, in reading
    order: accuracy curves, old/new accuracy, accuracy matrices, sensitivity). The folder is the
    report's: plots of an earlier build (or an earlier raycil) are removed first."""
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.png"), *out.glob("*.svg")]:
        old.unlink()
    if exp.done.empty:
        return []
    paths = []
    for name, draw in FIGURES:
        fig = draw(exp)
        if fig is not None:
            paths.append(save(fig, out, name))
    return paths
