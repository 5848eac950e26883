"""The report's plots, from made-up phase reports (no Ray): files as PNG and SVG, accuracy vs
classes learned with one panel per class schedule, distinct styles, legends outside the axes,
sensitivity bands over seeds (not over the other swept parameter), the default marked, and the
accuracy matrix's cells."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb

from raycil import report
from raycil.report import plots
from raycil.sweep.settings import SweepConfig

matplotlib.use("Agg")
T0 = 1_760_000_000


def group_acc(level: float, g: int, p: int) -> float:
    """The made-up accuracy on phase g's classes after phase p."""
    return level - 10.0 * (p - g) - g


def reports(trial_id: str, config: dict, schedule: tuple[int, ...], level: float,
            matrix: bool = True) -> list[dict]:
    """One trial's Tune-shaped phase reports over ``schedule`` (classes seen after each phase);
    without ``matrix`` as old sweeps wrote them (no ``classes``, no ``group{g}_acc``)."""
    out, tops = [], []
    for p, classes in enumerate(schedule, start=1):
        groups = [group_acc(level, g, p) for g in range(1, p + 1)]
        tops.append(float(np.mean(groups)))
        row = {"trial_id": trial_id, "config": config, "training_iteration": p, "timestamp": T0 + 100 * p,
               "time_this_iter_s": 90.0, **config, "phase": p, "phases_total": len(schedule),
               "top1": tops[-1], "new_acc": groups[-1],
               "old_acc": float(np.mean(groups[:-1])) if p > 1 else math.nan,
               "avg_inc_acc": float(np.mean(tops)), "last_acc": tops[-1], "forgetting": 10.0 * (p - 1),
               "val_avg_inc_acc": float(np.mean(tops))}
        if matrix:
            row.update({"classes": classes, **{f"group{g}_acc": a for g, a in enumerate(groups, start=1)}})
        out.append(row)
    return out


def experiment(tmp_path: Path, trials: list[tuple[dict, tuple[int, ...], float]], space: dict | None = None,
               base: dict | None = None, matrix: bool = True, **sweep) -> report.Experiment:
    """An Experiment of complete trials (config, schedule, level), trial ids in the given order."""
    variants = list(dict.fromkeys(config["variant"] for config, _, _ in trials))
    config = SweepConfig.model_validate({"name": "plots", "variants": {v: {} for v in variants},
                                         "search_space": space or {}, "seeds": [0], **sweep})
    results = [line for i, (c, schedule, level) in enumerate(trials)
               for line in reports(f"t{i:04d}", c, schedule, level, matrix)]
    exp = report.experiment_from_results(tmp_path, config, results, {})
    exp.base = base or {}
    return exp


def seed_level(seed: int) -> float:
    """Variant a's level by seed (uneven: a mean over seeds is not their median)."""
    return 80.0 + 3 * seed**2


def two_protocols(tmp_path: Path, seeds: int = 3, matrix: bool = True) -> report.Experiment:
    """Variants a, b x protocol.num_phases 2 (classes 4, 8) and 3 (4, 6, 8) x seeds."""
    trials = [({"variant": v, "seed": s, "protocol.num_phases": n}, schedule, seed_level(s) - 5 * (v == "b"))
              for v in ("a", "b") for n, schedule in ((2, (4, 8)), (3, (4, 6, 8))) for s in range(seeds)]
    return experiment(tmp_path, trials, {"protocol.num_phases": [2, 3]}, {"protocol": {"num_phases": 2}},
                      matrix=matrix)


def drawn(ax) -> list:
    """The data lines of an axes (not the default marker)."""
    return [line for line in ax.get_lines() if line.get_linestyle() != "--" or line.get_marker() != "None"]


def band(ax, x: float) -> tuple[float, float]:
    """The lower and upper edge of the first CI band at ``x``."""
    vertices = ax.collections[0].get_paths()[0].vertices
    ys = vertices[np.isclose(vertices[:, 0], x), 1]
    return float(ys.min()), float(ys.max())


def assert_legend_outside(fig) -> None:
    FigureCanvasAgg(fig).draw()
    legend = fig.legends[0].get_window_extent()
    assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)
    for ax in fig.axes:
        if ax.get_visible():
            assert not legend.overlaps(ax.get_window_extent())


def test_plot_all_writes_png_and_svg_in_reading_order(tmp_path):
    exp = two_protocols(tmp_path)
    paths = plots.plot_all(exp, tmp_path / "plots")
    assert [p.stem for p in paths] == ["accuracy_vs_classes", "old_new_accuracy", "accuracy_matrix",
                                      "sensitivity"]
    for png in paths:
        assert png.suffix == ".png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in png.with_suffix(".svg").read_text()


def test_accuracy_one_panel_per_class_schedule_x_is_classes(tmp_path):
    fig = plots.accuracy_figure(two_protocols(tmp_path))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2
    for ax, schedule in zip(axes, ((4, 8), (4, 6, 8)), strict=True):
        lines = drawn(ax)
        assert len(lines) == 2 and all(list(line.get_xdata()) == list(schedule) for line in lines)
        assert ax.get_xlabel() == "number of classes learned" and "(%)" in ax.get_ylabel()
        assert f"protocol.num_phases={len(schedule)}" in ax.get_title()
    first = drawn(axes[0])[0]  # variant a, 2 phases: mean over seeds of the top-1 accuracy
    levels = [seed_level(s) for s in range(3)]
    expected = [np.mean([group_acc(x, 1, 1) for x in levels]),
                np.mean([np.mean([group_acc(x, 1, 2), group_acc(x, 2, 2)]) for x in levels])]
    assert first.get_ydata() == pytest.approx(expected)
    assert len(axes[0].collections) == 2  # a band per line
    assert_legend_outside(fig)


def test_variants_of_different_schedules_never_share_a_panel(tmp_path):
    trials = [({"variant": v, "seed": s}, schedule, 80.0 + s)
              for v, schedule in (("five", (4, 8, 12, 16, 20)), ("two", (10, 20))) for s in range(2)]
    fig = plots.accuracy_figure(experiment(tmp_path, trials))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [len(drawn(ax)) for ax in axes] == [1, 1]
    assert [list(drawn(ax)[0].get_xdata()) for ax in axes] == [[4, 8, 12, 16, 20], [10, 20]]


def test_every_variant_its_own_colour_and_marker(tmp_path):
    for n in (3, 10, 13, 20, 25):
        styles = plots.styles(n)
        assert len({(tuple(to_rgb(s.color)), s.marker, s.linestyle) for s in styles}) == n
        rgb = np.array([to_rgb(s.color) for s in styles])
        gaps = [np.abs(a - b).max() for a, b in itertools.combinations(rgb, 2)]
        assert min(gaps) > 0.02, n
    trials = [({"variant": f"v{i}", "seed": 0}, (5, 10), 60.0 + i) for i in range(25)]
    fig = plots.accuracy_figure(experiment(tmp_path, trials))
    lines = drawn(fig.axes[0])
    assert len(lines) == 25
    assert len({to_rgb(line.get_color()) for line in lines}) == 25
    assert len({(to_rgb(line.get_color()), line.get_marker()) for line in lines}) == 25
    assert not fig.axes[0].collections  # one seed: no band
    assert_legend_outside(fig)


def test_too_many_settings_keep_each_variants_best(tmp_path):
    lrs = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    best = {"a": 0.1, "b": 0.5}
    trials = [({"variant": v, "seed": s, "train.lr": lr}, (5, 10),
               70.0 - 20 * abs(lr - best[v]) + s + 5 * (v == "b"))
              for v in ("a", "b") for lr in lrs for s in range(2)]
    exp = experiment(tmp_path, trials, {"train.lr": lrs})
    fig = plots.accuracy_figure(exp)
    ax = fig.axes[0]
    assert "best setting" in ax.get_title()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["a (best: train.lr=0.1)", "b (best: train.lr=0.5)"]
    assert len(drawn(ax)) == 2


def test_identical_variants_are_drawn_once_with_both_names(tmp_path):
    trials = [({"variant": v, "seed": s}, (5, 10), 70.0 + s) for v in ("a", "b") for s in range(2)]
    trials += [({"variant": "c", "seed": s}, (5, 10), 60.0 + s) for s in range(2)]
    fig = plots.accuracy_figure(experiment(tmp_path, trials))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a = b", "c"]


def test_old_and_new_accuracy_dashed_and_solid_per_variant(tmp_path):
    fig = plots.old_new_figure(two_protocols(tmp_path))
    ax = fig.axes[0]
    styles = [(line.get_linestyle(), to_rgb(line.get_color())) for line in ax.get_lines()]
    assert sorted(s for s, _ in styles) == ["-", "-", "--", "--"]
    assert len({c for _, c in styles}) == 2
    new = [line for line in ax.get_lines() if line.get_linestyle() == "-"][0]
    assert list(new.get_xdata()) == [4, 8]
    assert new.get_ydata() == pytest.approx([np.mean([group_acc(seed_level(s), p, p) for s in range(3)])
                                             for p in (1, 2)])
    assert_legend_outside(fig)


def test_accuracy_matrix_cells_are_means_over_seeds(tmp_path):
    exp = two_protocols(tmp_path)
    fig = plots.matrix_figure(exp)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2  # one per variant, of the first protocol (2 phases)
    assert "first of 2 protocols" in fig.get_suptitle()
    cells = panels[1].images[0].get_array()  # variant b
    rows = plots.complete_rows(exp)
    rows = rows[(rows["variant"] == "b") & (rows["protocol.num_phases"] == 2)]
    for g, p in ((1, 1), (1, 2), (2, 2)):
        assert cells[g - 1, p - 1] == pytest.approx(rows.loc[rows["phase"] == p, f"group{g}_acc"].mean())
    for p in (1, 2):
        assert cells[p - 1, p - 1] == pytest.approx(rows.loc[rows["phase"] == p, "new_acc"].mean())
    assert np.ma.is_masked(cells[1, 0])  # phase 2's classes before phase 2: empty
    assert len(panels[1].texts) == 3


def test_sensitivity_band_is_over_seeds_at_the_others_default(tmp_path):
    def level(tau: float, eta: float, seed: int) -> float:  # eta changes the seed-to-seed spread
        return 50.0 + 10 * tau + seed * (3.0 if eta == 4.0 else 1.0)  # - 1: the objective

    space = {"cim.tau": [0.4, 0.6], "cim.eta": [2.0, 4.0]}
    trials = [({"variant": "base", "seed": s, "cim.tau": t, "cim.eta": e}, (5,), level(t, e, s))
              for t in space["cim.tau"] for e in space["cim.eta"] for s in range(4)]
    for eta_default, per_seed in ((4.0, [level(0.4, 4.0, s) for s in range(4)]),
                                  (3.0, [np.mean([level(0.4, e, s) for e in (2.0, 4.0)]) for s in range(4)])):
        exp = experiment(tmp_path, trials, space, {"cim": {"tau": 0.6, "eta": eta_default}})
        fig = plots.sensitivity_figure(exp)
        tau = fig.axes[0]
        assert len([ax for ax in fig.axes if ax.get_visible()]) == 2
        mean, half, n = report.mean_ci(np.array(per_seed) - 1)
        assert n == 4
        assert band(tau, 0.4) == pytest.approx((mean - half, mean + half))
        pooled = report.mean_ci([level(0.4, e, s) for e in (2.0, 4.0) for s in range(4)])[1]
        assert half != pytest.approx(pooled)
        assert "band: 95% CI over seeds (n = 4)" in tau.get_title()
        assert ("others at their defaults" in tau.get_title()) == (eta_default == 4.0)
        assert ("each seed averaged over cim.eta" in tau.get_title()) == (eta_default == 3.0)
        default = [line for line in tau.get_lines() if line.get_linestyle() == "--"]
        assert len(default) == 1 and list(default[0].get_xdata()) == [0.6, 0.6]
        assert any(t.get_text() == "default" for t in tau.texts)


def test_sensitivity_of_sampled_values_in_quantile_bins_on_log_x(tmp_path):
    rng = np.random.default_rng(0)
    betas = np.exp(rng.uniform(np.log(0.01), np.log(1.0), 30))
    trials = [({"variant": v, "seed": i % 2, "cim.beta1": float(b)}, (5, 10),
               60.0 + 5 * np.log10(b) + i % 3 + 5 * (v == "y"))
              for v in ("x", "y") for i, b in enumerate(betas)]
    exp = experiment(tmp_path, trials, {"cim.beta1": {"loguniform": [0.01, 1.0]}}, {"cim": {"beta1": 0.1}},
                     search={"kind": "random", "num_samples": 30})
    fig = plots.sensitivity_figure(exp)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "quantile bins" in ax.get_title()
    x_line = drawn(ax)[0]
    assert len(x_line.get_xdata()) == 8
    assert len({to_rgb(line.get_color()) for line in drawn(ax)}) == 2
    assert_legend_outside(fig)


def test_old_sweeps_without_the_new_columns_and_single_seeds(tmp_path):
    exp = two_protocols(tmp_path, seeds=1, matrix=False)
    assert plots.accuracy_figure(exp) is None and plots.matrix_figure(exp) is None
    paths = plots.plot_all(exp, tmp_path / "plots")
    assert [p.stem for p in paths] == ["sensitivity"]
    one_seed = two_protocols(tmp_path, seeds=1)
    fig = plots.accuracy_figure(one_seed)
    assert all(not ax.collections for ax in fig.axes)
    assert all(not ax.collections for ax in plots.sensitivity_figure(one_seed).axes)


def test_sensitivity_of_named_values_and_identical_variants(tmp_path):
    trials = [({"variant": v, "seed": s, "memory.selection": sel}, (5, 10), 70.0 + 5 * (sel == "herding") + s)
              for v in ("a", "b") for sel in ("random", "herding") for s in range(3)]
    exp = experiment(tmp_path, trials, {"memory.selection": ["random", "herding"]},
                     {"memory": {"selection": "herding"}})
    fig = plots.sensitivity_figure(exp)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["random", "herding"]
    default = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert list(default[0].get_xdata()) == [1, 1]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a = b"]
    a = exp.done[exp.done["variant"] == "a"]
    expected = [a.loc[a["memory.selection"] == sel, "avg_inc_acc"].mean() for sel in ("random", "herding")]
    assert drawn(ax)[0].get_ydata() == pytest.approx(expected)
