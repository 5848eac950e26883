"""The tuning protocols' table (``protocols.csv``, ``protocols.md``) of a tuning sweep's folder
(:mod:`raycil.sweep.protocols`): per protocol the setting it chose and on what, the chosen
setting's test metrics over the evaluation seeds (mean and 95% t-interval), the compute the
protocol spent (its stage-1 trials and phases, the evaluation runs it needed beyond them,
CPU- and GPU-seconds as the trials' reserved resources times their phases' wall time), and its
gap to the oracle's choice, paired by evaluation seed (mean, 95% t-interval, paired t-test p)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from raycil.report.loading import Experiment, load_experiment
from raycil.report.stats import mean_ci, paired_test
from raycil.report.tables import cell, fmt, markdown
from raycil.sweep.protocols import CHOSEN_FILE, STAGE2, TUNING_FILE, setting_key, stage2_variants
from raycil.sweep.settings import plain

REPORTED = (("avg_inc_acc", "test avg. inc. acc."), ("last_acc", "test last acc."),
            ("val_avg_inc_acc", "val. avg. inc. acc."))


@dataclass
class ProtocolsReport:
    table: pd.DataFrame
    text: str
    files: list[Path]


def _experiments(exp_dir: Path, names: list[str]) -> dict[str, Experiment]:
    out = {}
    for name in names:
        try:
            out[name] = load_experiment(exp_dir / name)
        except FileNotFoundError:
            continue
    return out


def _seconds(exp: Experiment, trial_ids: list[str]) -> tuple[int, int, float, float]:
    """(trials, phases, CPU-seconds, GPU-seconds) of ``trial_ids``' reported phases."""
    rows = exp.rows[exp.rows["trial_id"].isin(trial_ids)]
    wall = float((rows["ended_at"] - rows["started_at"]).clip(lower=0).sum()) if len(rows) else 0.0
    res = exp.sweep.resources
    return rows["trial_id"].nunique(), len(rows), wall * res.cpu, wall * res.gpu


def evaluation_runs(exps: dict[str, Experiment], stages: list[dict[str, Any]], params: list[str],
                    setting: dict[str, Any], variant: str, seeds: list[int]) -> dict[int, tuple[str, str]]:
    """Per evaluation seed, the complete whole run of ``setting``: (folder, trial id), from stage 2
    (its variant ``variant``) or from a full stage-1 sub-sweep that made the same run."""
    out: dict[int, tuple[str, str]] = {}
    if STAGE2 in exps:
        done = exps[STAGE2].done
        for trial_id, row in done[done["variant"] == variant].iterrows():
            out[int(row["seed"])] = (STAGE2, str(trial_id))
    wanted = setting_key(setting)
    for stage in stages:
        if not stage["full_runs"] or stage["name"] not in exps:
            continue
        for trial_id, row in exps[stage["name"]].done.iterrows():
            seed = int(row["seed"])
            same = setting_key({k: plain(row[k]) for k in params}) == wanted
            if seed in seeds and seed not in out and same:
                out[seed] = (stage["name"], str(trial_id))
    return {s: out[s] for s in seeds if s in out}


def protocols_table(exp_dir: str | Path) -> pd.DataFrame:
    """One row per protocol (see the module docstring); raises FileNotFoundError before the
    protocols have chosen."""
    exp_dir = Path(exp_dir)
    record = json.loads((exp_dir / TUNING_FILE).read_text())
    chosen_file = exp_dir / CHOSEN_FILE
    if not chosen_file.is_file():
        raise FileNotFoundError(f"{exp_dir}: stage 1 has not finished; no protocol has chosen yet")
    chosen = json.loads(chosen_file.read_text())
    stages = record["stages"]
    sweep = record["sweep"]
    seeds = [int(s) for s in sweep["seeds"]]
    params = list(sweep["search_space"])
    exps = _experiments(exp_dir, [s["name"] for s in stages] + [STAGE2])
    variants = stage2_variants(chosen)
    finals: dict[str, dict[int, pd.Series]] = {}
    rows = []
    for protocol, entry in chosen.items():
        runs = evaluation_runs(exps, stages, params, entry["setting"], variants[protocol], seeds)
        finals[protocol] = {s: exps[d].done.loc[t] for s, (d, t) in runs.items()}
        stage_exp = exps[entry["stage"]]
        stage_trials = list(stage_exp.final.index)
        s1 = _seconds(stage_exp, stage_trials)
        extra = [(d, t) for d, t in runs.values() if not (d == entry["stage"] and t in stage_trials)]
        s2 = [_seconds(exps[d], [t]) for d, t in extra]
        row: dict[str, Any] = {"protocol": protocol,
                               "chosen": ", ".join(f"{k}={fmt(v)}" for k, v in entry["setting"].items()),
                               "ranked_on": entry["ranked_on"], "stage": entry["stage"],
                               "choice_score": entry["score"], "n_seeds": len(runs)}
        for metric, _ in REPORTED:
            mean, half, _n = mean_ci([f.get(metric, math.nan) for f in finals[protocol].values()])
            row.update({f"{metric}_mean": mean, f"{metric}_ci95": half})
        eval_phases = sum(x[1] for x in s2)
        row.update({"stage1_trials": s1[0], "stage1_phases": s1[1], "eval_trials": len(extra),
                    "eval_phases": eval_phases, "phases_total": s1[1] + eval_phases,
                    "cpu_seconds": s1[2] + sum(x[2] for x in s2),
                    "gpu_seconds": s1[3] + sum(x[3] for x in s2)})
        rows.append(row)
    table = pd.DataFrame(rows)
    gaps = []
    for protocol in table["protocol"]:
        if "oracle" not in finals:
            gaps.append((math.nan, math.nan, 0, math.nan))
            continue
        common = sorted(set(finals[protocol]) & set(finals["oracle"]))
        gaps.append(paired_test([finals[protocol][s]["avg_inc_acc"] for s in common],
                                [finals["oracle"][s]["avg_inc_acc"] for s in common]))
    table["gap_to_oracle_mean"] = [g[0] for g in gaps]
    table["gap_to_oracle_ci95"] = [g[1] for g in gaps]
    table["gap_pairs"] = [g[2] for g in gaps]
    table["gap_p_value"] = [g[3] for g in gaps]
    return table


def protocols_markdown(table: pd.DataFrame, name: str, metric: str) -> str:
    """``protocols.md``: the table a reader compares protocols by."""
    shown = pd.DataFrame({
        "chosen setting": table["chosen"].to_list(),
        "chosen on": [f"{r} ({fmt(v)}, {s})" for r, v, s in
                      zip(table["ranked_on"], table["choice_score"], table["stage"], strict=True)],
        **{title: [cell(m, h) for m, h in zip(table[f"{k}_mean"], table[f"{k}_ci95"], strict=True)]
           for k, title in REPORTED},
        "seeds": table["n_seeds"].to_list(),
        "gap to oracle [pairs] p": [
            "-" if n == 0 else f"{cell(m, h)} [{n}] p={fmt(p)}" for m, h, n, p in
            zip(table["gap_to_oracle_mean"], table["gap_to_oracle_ci95"], table["gap_pairs"],
                table["gap_p_value"], strict=True)],
        "phases (stage 1 + eval)": [f"{a} + {b}" for a, b in
                                    zip(table["stage1_phases"], table["eval_phases"], strict=True)],
        "CPU-min": [f"{c / 60:.1f}" for c in table["cpu_seconds"]],
    }, index=pd.Index(table["protocol"].to_list(), name="protocol"))
    return "\n".join([
        f"# {name}: tuning protocols", "",
        f"Each protocol chose its setting on the data it may see (the oracle on the evaluation runs' test "
        f"{metric}: the reference, not a result); the chosen setting's test metrics are over the evaluation "
        "seeds (mean ± half-width of the 95% t-interval); the gap is the protocol's test avg. incremental "
        "accuracy minus the oracle's choice's, paired by seed; compute counts the protocol's stage-1 "
        "trials and the evaluation runs it needed beyond them, at the trials' reserved CPUs.", "",
        markdown(shown)])


def protocols_plot(table: pd.DataFrame, name: str, path: Path) -> Path:
    """``protocols.png``: per protocol (a row, its chosen setting beneath its name), the chosen
    setting's test average incremental accuracy (mean and 95% CI over the evaluation seeds; the
    oracle's as a dashed line) and the compute the protocol spent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(table)
    fig, (acc, cost) = plt.subplots(1, 2, figsize=(9.0, 1.2 + 0.75 * n), sharey=True, layout="constrained",
                                    gridspec_kw={"width_ratios": [3, 2]})
    y = list(range(n))[::-1]
    halves = [0.0 if math.isnan(h) else h for h in table["avg_inc_acc_ci95"]]
    acc.errorbar(table["avg_inc_acc_mean"], y, xerr=halves, fmt="o", capsize=4, color="tab:blue")
    oracle = table[table["protocol"] == "oracle"]
    if len(oracle):
        acc.axvline(float(oracle["avg_inc_acc_mean"].iloc[0]), ls="--", lw=1, color="grey",
                    label="oracle's choice")
        acc.legend(loc="lower left", fontsize=8)
    labels = [f"{p}\n{c}" for p, c in zip(table["protocol"], table["chosen"], strict=True)]
    acc.set_yticks(y, labels, fontsize=8)
    acc.set_xlabel("test avg. incremental accuracy (%), mean and 95% CI")
    cost.barh(y, table["stage1_phases"], color="tab:orange", label="stage 1 (choosing)")
    cost.barh(y, table["eval_phases"], left=table["stage1_phases"], color="tab:green",
              label="evaluation runs beyond stage 1")
    for yy, phases, cpu in zip(y, table["phases_total"], table["cpu_seconds"], strict=True):
        digits = 0 if cpu >= 600 else 1
        cost.annotate(f" {cpu / 60:.{digits}f} CPU-min", (phases, yy), va="center", fontsize=8)
    cost.set_xlabel("phases trained")
    cost.set_xlim(0, float(table["phases_total"].max()) * 1.45)
    cost.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=7, ncols=1)
    fig.suptitle(f"{name}: the setting each tuning protocol chose, scored on test data", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def build_protocols(exp_dir: str | Path) -> ProtocolsReport:
    """Write ``protocols.csv``, ``protocols.md`` and ``protocols.png`` into a tuning sweep's folder."""
    exp_dir = Path(exp_dir)
    record = json.loads((exp_dir / TUNING_FILE).read_text())
    table = protocols_table(exp_dir)
    name = record["sweep"]["name"]
    text = protocols_markdown(table, name, record["sweep"]["objective"]["metric"])
    table.to_csv(exp_dir / "protocols.csv", index=False)
    (exp_dir / "protocols.md").write_text(text + "\n", encoding="utf-8")
    plot = protocols_plot(table, name, exp_dir / "protocols.png")
    return ProtocolsReport(table, text, [exp_dir / "protocols.csv", exp_dir / "protocols.md", plot])


def is_tuning_dir(exp_dir: str | Path) -> bool:
    return (Path(exp_dir) / TUNING_FILE).is_file()
