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
from raycil.data.registry import check_datasets
from raycil.schema import ConfigError
from raycil.sweep import progress
from raycil.sweep.cluster import check_capacity, connect, dashboard_help, local_capacity
from raycil.sweep.describe import describe
from raycil.sweep.interrupts import Interrupts, resume_command
from raycil.sweep.outputs import check_outputs
from raycil.sweep.plan import plan_sweep
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
        if args.dry_run:
            print(describe(plan))
            return 0
        if not args.address:
            check_capacity(plan, local_capacity(), "this machine")
        mended = check_outputs(plan, args.resume)
        check_datasets(plan.datasets)
    except (ConfigError, FileNotFoundError) as err:
        return refuse(err)
    for line in mended:
        print(f"raycil.sweep: {line}")
    try:
        context = connect(args.address, not args.no_dashboard)
        check_capacity(plan, ray.cluster_resources(), "the Ray cluster")
    except ConfigError as err:
        ray.shutdown()
        return refuse(err)
    print(describe(plan).splitlines()[0])
    for line in dashboard_help(context, plan.exp_dir):
        print(line)
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
