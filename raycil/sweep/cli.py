"""``python -m raycil.sweep FILE.yaml [--profile NAME] [--set k=v ...] [--resume] [--address ADDR]
[--dry-run] [--no-dashboard] [--progress-every SECONDS]``: run a sweep of CIL trials on Ray Tune.

The sweep file is validated and expanded before Ray starts (a mistake is one line and exit 2,
with nothing written). Each trial runs ``raycil.sweep.trial.run_trial`` on its own placement group;
Tune schedules (FIFO or ASHA over phases), checkpoints after every phase, retries failed trials
from their last phase and resumes interrupted sweeps (``--resume``). The outputs of
``raycil.report`` are built at the end and the summary table is printed. While it runs, each
trial's phases and its epochs inside them are printed, with the sweep's time left
(``raycil.sweep.progress``).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys

import ray

from raycil import report
from raycil.config.overrides import parse_overrides
from raycil.data.registry import check_datasets
from raycil.report.protocols import build_protocols
from raycil.schema import ConfigError
from raycil.sweep import progress
from raycil.sweep.cluster import check_capacity, connect, dashboard_help, local_capacity
from raycil.sweep.describe import describe, describe_tuning
from raycil.sweep.interrupts import Interrupts, resume_command
from raycil.sweep.outputs import check_outputs
from raycil.sweep.plan import plan_sweep
from raycil.sweep.protocols import TuningPlan, check_tuning_outputs, plan_tuning
from raycil.sweep.staged import run_tuning
from raycil.sweep.tuner import run_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raycil.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("file", help="sweep YAML")
    parser.add_argument("--profile", help="a named profile of the file's profiles: section")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted override of the sweep (seeds=[0,1]) or its experiment (train.epochs=3)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    parser.add_argument("--address", help="join a Ray cluster: 'auto' or the head's host:port")
    parser.add_argument("--dry-run", action="store_true", help="print the expanded trials and exit")
    parser.add_argument("--no-dashboard", action="store_true", help="start the local Ray without dashboard")
    parser.add_argument("--progress-every", type=interval_s, default=progress.EVERY_S, metavar="SECONDS",
                        help="at most one line per trial this often inside a phase (epoch k/E; "
                             f"default {progress.EVERY_S:g}; 0: none)")
    args = parser.parse_args(argv)
    try:
        plan = plan_sweep(args.file, args.profile, args.overrides)
        tuning = (plan_tuning(plan, args.profile, parse_overrides(args.overrides))
                  if plan.sweep.tuning else None)
        if args.dry_run:
            print(describe_tuning(tuning) if tuning else describe(plan))
            return 0
        plans = [s.plan for s in tuning.stages] if tuning else [plan]
        if not args.address:
            for p in plans:
                check_capacity(p, local_capacity(), "this machine")
        if tuning:
            check_tuning_outputs(tuning, args.resume)
            mended: list[str] = []
        else:
            mended = check_outputs(plan, args.resume)
        check_datasets(list({d.model_dump_json(): d for p in plans for d in p.datasets}.values()))
    except (ConfigError, FileNotFoundError) as err:
        return refuse(err)
    for line in mended:
        print(f"raycil.sweep: {line}")
    try:
        context = connect(args.address, not args.no_dashboard)
        for p in plans:
            check_capacity(p, ray.cluster_resources(), "the Ray cluster")
    except ConfigError as err:
        ray.shutdown()
        return refuse(err)
    print(describe(plan).splitlines()[0])
    if plan.sweep.chooses and plan.sweep.objective.split == "test" and tuning is None:
        print("raycil.sweep: objective.split test: this sweep ranks its trials on test data, so the setting "
              "it finds best is an oracle's choice (labelled so in its report); objective.split val ranks "
              "them on the validation split", flush=True)
    for line in dashboard_help(context, plan.exp_dir):
        print(line)
    if tuning is not None:
        return tuning_main(tuning, args, argv)
    with Interrupts() as interrupts:
        results = run_sweep(plan, args.resume, args.progress_every)
    try:
        built = report.build(plan.exp_dir)
    except FileNotFoundError as err:  # interrupted before any trial reported a phase
        print(f"raycil.sweep: {err}")
        n = {"planned": len(plan.trials) or plan.sweep.search.num_samples, "complete": 0, "stopped early": 0}
    else:
        print(built.text)
        n = report.counts(built.experiment)
    if interrupts.received is not None:
        finished = n["complete"] + n["stopped early"]
        print(f"raycil.sweep: interrupted by {signal.Signals(interrupts.received).name}: {finished} of "
              f"{n['planned']} planned trials finished; resume with: "
              f"{resume_command(sys.argv[1:] if argv is None else argv)}", flush=True)
        return 128 + interrupts.received
    failed = sum(r.error is not None for r in results)
    if failed:
        print(f"{failed} trial(s) failed after {plan.sweep.max_failures} retries; see their error.txt "
              f"under {plan.exp_dir}")
    return 1 if failed else 0


def tuning_main(tuning: TuningPlan, args: argparse.Namespace, argv: list[str] | None) -> int:
    """A tuning sweep's stages, then its protocols table (or how to resume it)."""
    with Interrupts() as interrupts:
        staged = run_tuning(tuning, args.progress_every, lambda: interrupts.received is not None)
    if staged.stopped and interrupts.received is not None:
        print(f"raycil.sweep: interrupted by {signal.Signals(interrupts.received).name} after stages "
              f"{', '.join(staged.stages_done) or 'none'} finished; resume with: "
              f"{resume_command(sys.argv[1:] if argv is None else argv)}", flush=True)
        return 128 + interrupts.received
    built = build_protocols(tuning.exp_dir)
    print(built.text)
    print("wrote " + ", ".join(str(f.relative_to(tuning.exp_dir)) for f in built.files) + " (each stage's "
          "own report in its folder)")
    if staged.failed:
        print(f"{staged.failed} trial(s) failed after {tuning.main.sweep.max_failures} retries; see their "
              f"error.txt under {tuning.exp_dir}")
    return 1 if staged.failed else 0


def interval_s(text: str) -> float:
    """``--progress-every``: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0 (0: off), got '{text}'")
    return value


def refuse(err: Exception) -> int:
    print(f"raycil.sweep: error: {err}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
