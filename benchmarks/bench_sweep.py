"""Sweep engine measurements (not tests): medians of ``--repeats`` runs, ratios against a
baseline measured in the same run.

(a) one trial through ``raycil.sweep`` vs the same experiment through ``raycil.run``: wall-time
    ratio, end to end (fresh processes; the sweep also starts Ray) and inside one process with
    Ray already up (Tune + actors + per-phase checkpoints vs the in-process phase loop);
(b) 4 trials on the machine's cores, 2 at a time vs one at a time: speed-up;
(c) the SS-IL replay sweep (search_spaces/ssil_replay.yaml, one protocol of 8 phases, 6 replay
    batch sizes x 3 seeds) with ASHA (the default rungs: phase 2, then x4) vs FIFO: the share of
    phases ASHA trained, and whether its best setting lies within the 95% CI of FIFO's best.

    python benchmarks/bench_sweep.py --size tiny|small|medium|large [--repeats 3] [--parts abc]
                                     [--with-default-threads]

Ray runs its workers at niceness 15 by default, which on a shared machine hands every other
process priority over the trials; the measurements set ``RAY_worker_niceness=0`` so the sweep
and its ``raycil.run`` baseline compete for the CPUs on equal terms. ``raycil.run`` is timed
with one torch thread (what a one-CPU trial uses) and, with ``--with-default-threads``, also
with torch's default thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import ray
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["RAY_worker_niceness"] = "0"  # read by the raylets started here and by the CLIs

from procstats import Sampler  # noqa: E402

from raycil.data.registry import check_datasets  # noqa: E402
from raycil.run import run_experiment  # noqa: E402
from raycil.sweep.plan import plan_sweep  # noqa: E402
from raycil.sweep.tuner import run_sweep  # noqa: E402

# experiment overrides on configs/finetune.yaml (profile smoke) per size; trial length grows
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {},
    "small": {"dataset.num_classes": 10, "dataset.train_per_class": 50, "protocol.num_phases": 5,
              "memory.budget": 50, "train.epochs_first": 5, "train.epochs": 3},
    "medium": {"dataset.num_classes": 20, "dataset.train_per_class": 100, "protocol.num_phases": 5,
               "memory.budget": 200, "train.epochs_first": 10, "train.epochs": 5},
    "large": {"dataset.num_classes": 20, "dataset.train_per_class": 300, "protocol.num_phases": 5,
              "memory.budget": 400, "train.epochs_first": 10, "train.epochs": 5},
}
# the SS-IL replay sweep (smoke profile) per size, one protocol (ASHA ranks trials at the same
# phase, so a sweep over the number of phases is refused under it): more epochs as size grows
SSIL_ONE_PROTOCOL = {"search_space.protocol.num_phases": [8], "dataset.num_classes": 16, "memory.budget": 32,
                     "search_space.train.replay_batch_size": [2, 4, 8, 16, 32, 64], "seeds": [0, 1, 2]}
SSIL_SIZES: dict[str, dict[str, Any]] = {
    "tiny": SSIL_ONE_PROTOCOL,
    "small": {**SSIL_ONE_PROTOCOL, "train.epochs_first": 3, "train.epochs": 2},
    "medium": {**SSIL_ONE_PROTOCOL, "train.epochs_first": 6, "train.epochs": 3},
    "large": {**SSIL_ONE_PROTOCOL, "train.epochs_first": 12, "train.epochs": 6},
}


def sets(overrides: dict[str, Any]) -> list[str]:
    return [a for k, v in overrides.items() for a in ("--set", f"{k}={json.dumps(v)}")]


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, **(env or {})})
    return time.perf_counter() - start


def one_trial_sweep_file(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "extends": str(ROOT / "configs/finetune.yaml"),
                                    "storage_path": str(tmp / "runs"), "seeds": [0],
                                    "profiles": {"smoke": {}}}))
    return path


def part_a(size: str, repeats: int, tmp: Path, default_threads: bool) -> dict[str, float]:
    """End-to-end CLIs (each in a fresh process), then both engines inside this process."""
    ov = SIZES[size]
    run_cmd = [sys.executable, "-m", "raycil.run", "configs/finetune.yaml", "--profile", "smoke", *sets(ov)]
    sweep_times, run_times, run1_times = [], [], []
    for i in range(repeats):
        sweep_file = one_trial_sweep_file(tmp, f"a{i}")
        sweep_times.append(timed([sys.executable, "-m", "raycil.sweep", str(sweep_file), "--profile", "smoke",
                                  "--no-dashboard", *sets(ov)]))
        if default_threads:
            run_times.append(timed([*run_cmd, "--out", str(tmp / f"run{i}")]))
        run1_times.append(timed([*run_cmd, "--out", str(tmp / f"run1_{i}")], {"OMP_NUM_THREADS": "1"}))
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        in_sweep, in_run = [], []
        for i in range(repeats):
            plan = plan_sweep(one_trial_sweep_file(tmp, f"ain{i}"), "smoke", ov)
            check_datasets(plan.datasets)  # as raycil.sweep does before Ray starts
            start = time.perf_counter()
            result = run_sweep(plan)[0].metrics
            in_sweep.append(time.perf_counter() - start)
            torch.set_num_threads(1)
            start = time.perf_counter()
            reference = run_experiment(plan.experiment_config(plan.trials[0]), None, verbose=False)
            in_run.append(time.perf_counter() - start)
        same = reference["summary"]["avg_inc_acc"] == result["avg_inc_acc"]
    finally:
        ray.shutdown()
    med = statistics.median
    out = {"e2e_sweep_s": med(sweep_times), "e2e_run_1thread_s": med(run1_times),
           "e2e_ratio": med(sweep_times) / med(run1_times)}
    if default_threads:
        out.update({"e2e_run_default_threads_s": med(run_times),
                    "e2e_ratio_vs_default_threads": med(sweep_times) / med(run_times)})
    return {**out, "inproc_sweep_s": med(in_sweep), "inproc_run_1thread_s": med(in_run),
            "inproc_ratio": med(in_sweep) / med(in_run), "same_avg_inc_acc": float(same)}


def part_b(size: str, repeats: int, tmp: Path) -> dict[str, float]:
    """4 trials (4 seeds), max_concurrent 2 vs 1, Ray already up; also where the CPU time went
    (``procstats``: the CPU seconds of the driver and of each kind of Ray process it started)."""
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        times: dict[int, list[float]] = {1: [], 2: []}
        cpu: dict[int, list[dict[str, float]]] = {1: [], 2: []}
        for i in range(repeats):
            for conc in (2, 1):
                plan = plan_sweep(one_trial_sweep_file(tmp, f"b{i}_{conc}"), "smoke",
                                  {**SIZES[size], "seeds": [0, 1, 2, 3], "max_concurrent": conc})
                check_datasets(plan.datasets)
                sampler = Sampler()
                sampler.start()
                start = time.perf_counter()
                run_sweep(plan)
                times[conc].append(time.perf_counter() - start)
                sampler.finish()
                cpu[conc].append(sampler.cpu_by_role())
    finally:
        ray.shutdown()
    one, two = statistics.median(times[1]), statistics.median(times[2])
    for conc in (1, 2):
        roles = sorted({r for run in cpu[conc] for r in run})
        shares = {r: statistics.median(run.get(r, 0.0) for run in cpu[conc]) for r in roles}
        print(f"    CPU seconds, {conc} at a time (median of {repeats}): " +
              ", ".join(f"{r} {v:.1f}" for r, v in sorted(shares.items(), key=lambda kv: -kv[1])))
    return {"one_at_a_time_s": one, "two_at_a_time_s": two, "speedup": one / two}


def best_setting(exp: Any, keys: list[str]) -> tuple[Any, float, float]:
    """The setting with the highest mean objective over its complete seeds: (setting, mean, CI)."""
    from raycil.report import mean_ci

    metric = exp.sweep.objective.metric
    means = {k: mean_ci(g[metric]) for k, g in exp.done.groupby(keys)}
    best = max(means, key=lambda k: means[k][0])
    return best, means[best][0], means[best][1]


def part_c(size: str, tmp: Path) -> dict[str, float]:
    """The SS-IL replay sweep (smoke profile, one protocol, several replay batch sizes and seeds)
    under ASHA (rungs from phase 2) and under FIFO: phases trained, and whether ASHA's best
    setting is, by FIFO's numbers, within the 95% CI of FIFO's best."""
    from raycil.report import load_experiment

    out: dict[str, float] = {}
    runs = {}
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        for kind in ("fifo", "asha"):
            plan = plan_sweep(ROOT / "search_spaces/ssil_replay.yaml", "smoke",
                              {**SSIL_SIZES[size], "scheduler.kind": kind, "name": f"c_{kind}",
                               "storage_path": str(tmp / "runs")})
            check_datasets(plan.datasets)
            start = time.perf_counter()
            run_sweep(plan)
            out[f"{kind}_s"] = time.perf_counter() - start
            runs[kind] = exp = load_experiment(plan.exp_dir)
            out[f"{kind}_phases_trained"] = float(len(exp.rows))
            out[f"{kind}_trials_complete"] = float(len(exp.done))
    finally:
        ray.shutdown()
    keys = runs["fifo"].params
    fifo_best, fifo_mean, fifo_half = best_setting(runs["fifo"], keys)
    asha_best, _, _ = best_setting(runs["asha"], keys)
    fifo = runs["fifo"].done
    metric = runs["fifo"].sweep.objective.metric
    asha_by_fifo = float(fifo[(fifo[keys] == pd.Series(asha_best, index=keys)).all(axis=1)][metric].mean())
    print(f"    FIFO best {dict(zip(keys, fifo_best, strict=True))}: {fifo_mean:.2f} ± {fifo_half:.2f}; "
          f"ASHA best {dict(zip(keys, asha_best, strict=True))}: {asha_by_fifo:.2f} by FIFO's trials")
    out["asha_phase_share"] = out["asha_phases_trained"] / out["fifo_phases_trained"]
    out["asha_best_within_fifo_ci"] = float(asha_by_fifo >= fifo_mean - fifo_half)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="abc")
    parser.add_argument("--with-default-threads", action="store_true",
                        help="(a) also times raycil.run with torch's default thread count")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for part in args.parts:
            start = time.perf_counter()
            if part == "a":
                figures = part_a(args.size, args.repeats, tmp, args.with_default_threads)
            elif part == "b":
                figures = part_b(args.size, args.repeats, tmp)
            else:
                figures = part_c(args.size, tmp)
            shown = ", ".join(f"{k} {v:.3g}" for k, v in figures.items())
            print(f"({part}) size {args.size}: {shown}  [{time.perf_counter() - start:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
