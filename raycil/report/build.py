"""Every output of a sweep folder, rebuilt from its trials' reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd

from raycil.report.flags import suspicious_seeds
from raycil.report.html import report_html
from raycil.report.loading import Experiment, counts, counts_line, load_experiment
from raycil.report.paper import paper_line, paper_markdown_table, paper_table
from raycil.report.pareto import front_line, pareto_plot, pareto_table
from raycil.report.plots import plot_all
from raycil.report.stats import paired_differences, summarize
from raycil.report.study import export_optuna, importance_line
from raycil.report.tables import flag_counts, flags_line, markdown, summary_markdown, summary_tables


@dataclass
class Report:
    experiment: Experiment
    summary: pd.DataFrame
    flagged: pd.DataFrame
    study: optuna.Study
    importances: dict[str, float]
    files: list[Path]
    text: str


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def paper_intro(exp: Experiment) -> str:
    """The paper section's first lines: where the paper's values come from and how to read ours."""
    paper = exp.sweep.paper
    assert paper is not None
    note = f" {paper.note}" if paper.note else ""
    return (f"The paper's values: {paper.source}, {paper.setting}.{note} Ours: this sweep's test "
            "data, mean ± 95% CI [seeds]; Δ: each row minus the first, the paper's and ours (paired by "
            "seed); told apart: our CI of Δ excludes 0, else the seeds a paired t-test needs to detect "
            "our Δ with 80% power.")


def build(exp_dir: str | Path) -> Report:
    """Rebuild every output of a sweep directory and return them with a printable summary."""
    import matplotlib

    matplotlib.use("Agg")
    exp = load_experiment(exp_dir)
    path = exp.path
    exp.rows.to_csv(path / "trials.csv", index=False)
    exp.rows.to_parquet(path / "trials.parquet", index=False)
    summary = summarize(exp)
    flagged = suspicious_seeds(exp)
    summary.assign(n_flagged=flag_counts(exp, summary, flagged)).to_csv(path / "summary.csv", index=False)
    md = summary_markdown(exp, summary, flagged)
    beside = paper_table(exp) if not summary.empty else None
    if beside is not None:
        beside.to_csv(path / "paper.csv", index=False)
        paper_section = (f"beside the paper: {exp.sweep.paper.source}",
                         paper_markdown_table(exp, beside))
        md += "\n\n" + "\n".join([f"## {paper_section[0]}", "", paper_intro(exp), "",
                                   markdown(paper_section[1])])
    _atomic_write(path / "summary.md", md + "\n")
    study = export_optuna(exp)
    n = counts_line(counts(exp))
    importance, imp = importance_line(exp, study) if exp.params else ("", {})
    plots = plot_all(exp, path / "plots")
    front = pareto_table(exp) if exp.sweep.objectives else None
    if front is not None:
        front.to_csv(path / "pareto.csv", index=False)
        drawn = pareto_plot(exp, front, path / "plots" / "pareto")
        plots += [drawn] if drawn is not None else []
    tables = summary_tables(exp, summary, flagged) if not summary.empty else []
    if beside is not None:
        tables.append(paper_section)
    page = report_html(exp, n, tables, paired_differences(exp), flagged, importance, plots)
    _atomic_write(path / "report.html", page)
    names = ("trials.csv", "trials.parquet", "summary.csv", "summary.md", "optuna.db", "report.html",
             *(("pareto.csv",) if front is not None else ()), *(("paper.csv",) if beside is not None else ()))
    files = [path / f for f in names] + plots
    lines = [f"{path}: {n}", "", md, ""]
    if importance:
        lines.append(importance)
    if front is not None:
        lines.append(front_line(front, exp))
    if beside is not None:
        lines.append(paper_line(exp, beside))
    if not summary.empty:
        lines.append(flags_line(exp, flagged))
    lines.append("wrote " + ", ".join(str(f.relative_to(path)) for f in files))
    return Report(exp, summary, flagged, study, imp, files, "\n".join(lines))
