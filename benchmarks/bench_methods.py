"""Time per phase of every CIL method relative to FT, on the same data in the same process.

    python benchmarks/bench_methods.py [--profile local] [--epochs 2] [--repeats 3] [--threads N]

Each method runs its own config (``configs/<method>.yaml``) on the profile's data with its
epoch counts scaled by ``--epochs / train.epochs`` (phase 1 and LUCIR's balanced fine-tuning
alike; DER's classifier re-training and FOSTER's compression follow ``train.epochs`` through
their ratios), so every method keeps its stages' proportions. A phase's time is the wall time
from the end of the previous phase to the end of this one: training, memory update, second
stages and evaluation. The table gives, for phase 1 and for the mean of the incremental phases
2..N, the median over ``--repeats`` runs (methods interleaved, so a slow spell of a shared
machine hits all of them) and its ratio to FT's.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from raycil.config import ExperimentConfig, load_config
from raycil.learner.phases import run_phases
from raycil.plugins.assembly import make_learner, make_memory

METHODS = {"finetune": "FT", "icarl": "iCaRL", "lwf": "LwF", "ssil": "SS-IL", "lucir": "LUCIR", "wa": "WA",
           "der": "DER", "foster": "FOSTER"}
CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def method_config(method: str, profile: str, epochs: int) -> ExperimentConfig:
    """``configs/<method>.yaml`` with every epoch count scaled to ``epochs`` incremental epochs."""
    path = CONFIGS / f"{method}.yaml"
    cfg = load_config(path, profile)
    scale = epochs / cfg.train.epochs
    t = cfg.train
    overrides: dict[str, Any] = {
        "train.epochs": epochs, "train.epochs_first": math.ceil(t.epochs_first * scale),
        "train.balanced_finetune.epochs": math.ceil(t.balanced_finetune.epochs * scale),
        "train.progress": False, "device": "cpu"}
    return load_config(path, profile, overrides)


def phase_times(cfg: ExperimentConfig) -> list[float]:
    """Wall seconds of every phase of one run."""
    learner, memory = make_learner(cfg), make_memory(cfg)
    stamps = [time.perf_counter()]
    run_phases(cfg, learner, memory, on_phase=lambda metrics, history: stamps.append(time.perf_counter()))
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def stage_epochs(cfg: ExperimentConfig) -> str:
    """The epochs of each stage of one incremental phase, for the table's header."""
    m, t = cfg.method, cfg.train
    stages = {"lucir": f"LUCIR balanced FT {t.balanced_finetune.epochs}",
              "der": f"DER re-training {m.der.retrain_epochs(t.epochs)}",
              "foster": f"FOSTER compression {m.foster.compression_epochs(t.epochs)}"}
    return stages.get(m.name, "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="local")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of an incremental phase")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = ["finetune"] + [m for m in args.methods if m != "finetune"]
    configs = {m: method_config(m, args.profile, args.epochs) for m in methods}
    first: dict[str, list[float]] = {m: [] for m in methods}
    incremental: dict[str, list[float]] = {m: [] for m in methods}
    for r in range(args.repeats):
        for m in methods:
            times = phase_times(configs[m])
            first[m].append(times[0])
            incremental[m].append(statistics.mean(times[1:]))
            print(f"  repeat {r + 1}/{args.repeats} {METHODS[m]}: {sum(times):.1f} s", file=sys.stderr,
                  flush=True)
    ft = configs["finetune"]
    extra = ", ".join(s for s in (stage_epochs(c) for c in configs.values()) if s)
    print(f"profile {args.profile}: {ft.num_classes} classes in {ft.protocol.num_phases} phases, "
          f"{ft.train.epochs_first} epochs in phase 1 and {ft.train.epochs} in later phases"
          f"{' (' + extra + ')' if extra else ''}; torch threads {torch.get_num_threads()}; "
          f"median of {args.repeats} runs")
    print(f"{'method':<8} {'phase 1 s':>10} {'x FT':>6} {'phases 2..N s':>14} {'x FT':>6}")
    base1, base_inc = statistics.median(first["finetune"]), statistics.median(incremental["finetune"])
    for m in methods:
        t1, tinc = statistics.median(first[m]), statistics.median(incremental[m])
        print(f"{METHODS[m]:<8} {t1:>10.2f} {t1 / base1:>6.2f} {tinc:>14.2f} {tinc / base_inc:>6.2f}")


if __name__ == "__main__":
    main()
