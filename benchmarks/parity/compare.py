"""raycil beside PyCIL on the parity recipe (docs/parity.md): the average incremental accuracy of each
method and classifier on both sides, mean and 95% CI over seeds, and raycil minus PyCIL with Welch's
t interval (the two sides' seeds draw different random streams, so they are not paired); then the
top-1 accuracy after each phase, mean over seeds.

    python benchmarks/parity/compare.py --pycil runs/pycil_parity --sweep runs/sweeps/pycil_parity
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from raycil.report.loading import load_experiment
from raycil.report.stats import mean_ci

PYCIL_NAMES = {"FT": "finetune", "iCaRL": "icarl", "WA": "wa", "DER": "der"}


def pycil_curves(folder: Path) -> pd.DataFrame:
    """One row per PyCIL run, classifier and phase: method, seed, head, phase, top1."""
    rows = []
    for path in sorted(folder.glob("*_seed*.json")):
        run = json.loads(path.read_text())
        if run.get("phases"):  # a run of the first phases only (run_pycil.py --phases)
            continue
        for head in ("cnn", "nme"):
            for phase, top1 in enumerate(run.get(f"{head}_curve", []), start=1):
                rows.append({"method": run["method"], "seed": run["seed"], "head": head, "phase": phase,
                             "top1": top1})
    return pd.DataFrame(rows, columns=["method", "seed", "head", "phase", "top1"])


def raycil_curves(sweep: Path) -> pd.DataFrame:
    """The same rows from the sweep's complete trials (``cnn_top1`` / ``nme_top1``; a method with
    one classifier reports it as ``top1``)."""
    exp = load_experiment(sweep)
    done = exp.final.index[exp.final["complete"]]
    rows = []
    for _, r in exp.rows[exp.rows["trial_id"].isin(done)].iterrows():
        method = PYCIL_NAMES[r["variant"]]
        for head in ("cnn", "nme"):
            key = f"{head}_top1" if f"{head}_top1" in r and not pd.isna(r[f"{head}_top1"]) else None
            if key is None and head == "cnn":
                key = "top1"
            if key is not None:
                rows.append({"method": method, "seed": r["seed"], "head": head, "phase": int(r["phase"]),
                             "top1": float(r[key])})
    return pd.DataFrame(rows, columns=["method", "seed", "head", "phase", "top1"])


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """mean(a) - mean(b), the half-width of Welch's 95% t interval and its p-value (NaN if undefined)."""
    if len(a) < 2 or len(b) < 2:
        return float(a.mean() - b.mean()), math.nan, math.nan
    test = stats.ttest_ind(a, b, equal_var=False)
    low, high = test.confidence_interval(0.95)
    return float(a.mean() - b.mean()), float((high - low) / 2), float(test.pvalue)


def fmt(mean: float, half: float, n: int) -> str:
    return f"{mean:.2f} ± {half:.2f} (n={n})" if not math.isnan(half) else f"{mean:.2f} (n={n})"


def comparison(pycil: pd.DataFrame, ours: pd.DataFrame) -> str:
    """The two markdown tables."""
    lines = ["| method | classifier | PyCIL | raycil | raycil − PyCIL (Welch 95% CI) | p |",
             "|---|---|---|---|---|---|"]
    phases = range(1, int(max(pycil["phase"].max(), ours["phase"].max())) + 1)
    curve_lines = ["| method | classifier | side | " + " | ".join(f"phase {p}" for p in phases) + " |",
                   "|---|---|---|" + "---|" * len(phases)]
    for variant, method in PYCIL_NAMES.items():
        for head in ("cnn", "nme"):
            sides = {name: frame[(frame["method"] == method) & (frame["head"] == head)]
                     for name, frame in (("PyCIL", pycil), ("raycil", ours))}
            if any(s.empty for s in sides.values()):
                continue
            avg = {name: s.groupby("seed")["top1"].mean().to_numpy() for name, s in sides.items()}
            diff, half, p = welch(avg["raycil"], avg["PyCIL"])
            cells = [fmt(*mean_ci(avg[name])[:2], len(avg[name])) for name in ("PyCIL", "raycil")]
            delta = f"{diff:+.2f} ± {half:.2f}" if not math.isnan(half) else f"{diff:+.2f}"
            p_cell = f"{p:.3f}" if not math.isnan(p) else "–"
            lines.append(f"| {variant} | {head.upper()} | {cells[0]} | {cells[1]} | {delta} | {p_cell} |")
            for name, s in sides.items():
                means = s.groupby("phase")["top1"].mean()
                curve_lines.append(f"| {variant} | {head.upper()} | {name} | "
                                   + " | ".join(f"{means.get(p, math.nan):.1f}" for p in phases) + " |")
    curves = "\n".join(curve_lines)
    return "\n".join(lines) + f"\n\nTop-1 after each phase (mean over seeds):\n\n{curves}\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pycil", type=Path, required=True, help="run_pycil.py's --out folder")
    parser.add_argument("--sweep", type=Path, required=True, help="the pycil_parity sweep's folder")
    args = parser.parse_args(argv)
    if not args.pycil.is_dir():
        parser.exit(2, f"compare: --pycil: '{args.pycil}' is not a folder\n")
    print(comparison(pycil_curves(args.pycil), raycil_curves(args.sweep)))


if __name__ == "__main__":
    main()
