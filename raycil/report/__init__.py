"""A sweep's outputs, rebuilt from its trials' per-phase reports (``python -m raycil.report EXP_DIR``,
and at the end of every sweep):

- ``trials.csv`` / ``trials.parquet``: one row per trial x phase (variant, seed, swept params,
  every reported metric, the accuracy matrix row ``group{g}_acc``, the phase's start and end
  times, the trial's Tune status);
- ``summary.csv`` / ``summary.md``: per variant and setting, mean and 95% t-interval over seeds of
  the metrics of docs/concepts.md, paper-style tables, paired differences to the first variant, and the
  suspicious seeds (``flags``);
- ``optuna.db``: an Optuna study holding every trial (``study``);
- ``plots/``: PNG and SVG (``plots``); ``report.html``: all of it in one offline page (``html``).

Modules by job: ``loading`` (reading the folder), ``stats``, ``flags``, ``tables``, ``study``,
``plots``, ``html``, ``build`` (all outputs), ``cli``.
"""

from raycil.report.build import Report, build
from raycil.report.cli import main
from raycil.report.flags import suspicious_seeds
from raycil.report.loading import Experiment, counts, experiment_from_results, load_experiment
from raycil.report.stats import mean_ci, paired_differences, summarize
from raycil.report.study import export_optuna, importance_line, optuna_url, trial_attrs
from raycil.report.tables import summary_markdown

__all__ = ["Experiment", "Report", "build", "counts", "experiment_from_results", "export_optuna",
           "importance_line", "load_experiment", "main", "mean_ci", "optuna_url", "paired_differences",
           "summarize", "summary_markdown", "suspicious_seeds", "trial_attrs"]
