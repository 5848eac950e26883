"""A sweep folder read back: the plan (``sweep.json``), every trial's phase reports (its
``phases.json``, else Tune's ``result.json``) and Tune's trial statuses, as one table per
trial x phase and one per trial."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from raycil.sweep.settings import SweepConfig

# Tune's bookkeeping in a result line; its clock becomes the phase's start and end times
TUNE_KEYS = {"config", "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date",
             "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "time_since_restore",
             "iterations_since_restore", "should_checkpoint", "experiment_tag"}


@dataclass
class Experiment:
    """A sweep's saved plan and its trials' results."""

    path: Path
    sweep: SweepConfig
    rows: pd.DataFrame      # one row per trial x phase
    final: pd.DataFrame     # one row per trial: its last phase, status, completeness
    configs: dict[str, dict[str, Any]]
    planned: int = 0        # trials the sweep plans (0: not recorded; those that reported count)
    base: dict[str, Any] = field(default_factory=dict)  # the base experiment config (defaults)

    @property
    def params(self) -> list[str]:
        return list(self.sweep.search_space)

    @property
    def groups(self) -> list[str]:
        return ["variant", *self.params]

    @property
    def done(self) -> pd.DataFrame:
        """The trials that finished all their phases (one row each)."""
        return self.final[self.final["complete"]]

    def default(self, key: str) -> Any:
        """The base experiment's value of a dotted key (None where it has none)."""
        node: Any = self.base
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


def _statuses(exp_dir: Path) -> dict[str, str]:
    from ray.tune import ExperimentAnalysis

    try:
        return {t.trial_id: t.status for t in ExperimentAnalysis(str(exp_dir)).trials}
    except (ValueError, FileNotFoundError, RuntimeError):  # no experiment state written yet
        return {}


def trial_reports(trial_dir: Path) -> list[dict[str, Any]]:
    """One trial's phase reports: its ``phases.json`` (every phase, rewritten by the trial after
    each), else Tune's ``result.json`` (which loses unflushed lines when its driver is killed)."""
    try:
        return json.loads((trial_dir / "phases.json").read_text())
    except (OSError, ValueError):
        pass
    try:
        text = (trial_dir / "result.json").read_text()
    except OSError:
        return []
    reports = []
    for line in text.splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:  # blank, or the last line torn by a kill
            continue
    return [r for r in reports if "phase" in r]


def read_results(exp_dir: Path) -> list[dict[str, Any]]:
    """Every phase report of every trial (:func:`trial_reports`)."""
    return [r for d in sorted(p for p in exp_dir.iterdir() if p.is_dir()) for r in trial_reports(d)]


def _row(report: dict[str, Any]) -> dict[str, Any]:
    """A report as a table row: Tune's bookkeeping dropped, its clock kept as the phase's times
    where the trial recorded none (sweeps written before trials recorded them)."""
    row = {"trial_id": report["trial_id"], **{k: v for k, v in report.items() if k not in TUNE_KEYS}}
    if "ended_at" not in row and "timestamp" in report:
        row["ended_at"] = float(report["timestamp"])
        row["started_at"] = row["ended_at"] - float(report.get("time_this_iter_s", 0.0))
    return row


def experiment_from_results(path: Path, sweep: SweepConfig, results: list[dict[str, Any]],
                            statuses: dict[str, str]) -> Experiment:
    """Rows (trial x phase; a phase reported twice keeps its last report) and per-trial finals."""
    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    configs: dict[str, dict[str, Any]] = {}
    for r in results:
        configs[r["trial_id"]] = r["config"]
        by_key[(r["trial_id"], r["phase"])] = _row(r)
    if not by_key:
        raise FileNotFoundError(f"{path}: no trial has reported a phase yet")
    # Tune's trial ids end in the expansion index, so this keeps the YAML's variant order
    rows = pd.DataFrame.from_records([by_key[k] for k in sorted(by_key)])
    rows.insert(1, "status", rows["trial_id"].map(lambda t: statuses.get(t, "UNKNOWN")))
    lead = ["trial_id", "status", "variant", "seed", *sweep.search_space, "phase", "phases_total"]
    rows = rows[lead + [c for c in rows.columns if c not in lead]]
    final = rows.groupby("trial_id", sort=False).tail(1).set_index("trial_id")
    final["complete"] = (final["phase"] == final["phases_total"]) & (final["status"] != "ERROR")
    return Experiment(path, sweep, rows, final, configs)


def load_experiment(exp_dir: str | Path) -> Experiment:
    """The sweep in ``exp_dir`` (FileNotFoundError: not a sweep folder, or nothing reported yet)."""
    exp_dir = Path(exp_dir).resolve()
    plan_file = exp_dir / "sweep.json"
    if not plan_file.is_file():
        raise FileNotFoundError(f"{exp_dir} is not a sweep directory (no sweep.json)")
    record = json.loads(plan_file.read_text())
    # a sweep from before the validation split ranked on test data, as its objective said
    record["sweep"].setdefault("objective", {}).setdefault("split", "test")
    sweep = SweepConfig.model_validate(record["sweep"])
    exp = experiment_from_results(exp_dir, sweep, read_results(exp_dir), _statuses(exp_dir))
    exp.planned = sweep.search.num_samples if sweep.search.kind == "optuna" else len(record.get("trials", []))
    exp.base = _with_defaults(record.get("base", {}))
    return exp


def _with_defaults(base: dict[str, Any]) -> dict[str, Any]:
    """The base experiment with the schema's defaults filled in (as saved where it no longer
    validates here, e.g. a dataset folder of another machine)."""
    from raycil.config.composed import ExperimentConfig

    try:
        return ExperimentConfig.model_validate(base).model_dump(mode="json")
    except ValueError:
        return base


def counts(exp: Experiment) -> dict[str, int]:
    """The planned trials by outcome: complete, stopped early (by the scheduler), failed,
    unfinished (started, resumable) and not started."""
    final = exp.final
    complete = int(final["complete"].sum())
    stopped = int(((final["status"] == "TERMINATED") & ~final["complete"]).sum())
    failed = int((final["status"] == "ERROR").sum())
    planned = max(exp.planned, len(final))
    return {"planned": planned, "complete": complete, "stopped early": stopped, "failed": failed,
            "unfinished": len(final) - complete - stopped - failed, "not started": planned - len(final)}


def counts_line(n: dict[str, int]) -> str:
    parts = [f"{v} {k}" for k, v in n.items() if k != "planned" and (v or k in ("complete", "failed"))]
    return f"{n['planned']} planned trials: " + ", ".join(parts)
