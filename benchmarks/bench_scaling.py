"""How a sweep's cost grows with its number of trials (not a test): wall time per trial, peak
memory of the driver and of each actor, and the object store's bytes per trial.

    python benchmarks/bench_scaling.py [--trials 2 4 8 16] [--repeats 3] [--size tiny|small]
                                       [--plot scaling.png]

For each count, a sweep of that many tiny trials (configs/finetune.yaml, smoke profile, one
trial per seed, ``max_concurrent`` = the machine's cores) runs through ``raycil.sweep.tuner.run_sweep``
in this process (Ray started once, no dashboard; Ray's workers at niceness 0 as in
bench_sweep.py). While it runs, a sampler thread reads every 0.2 s the resident memory of this
driver and of every Ray process it started (``benchmarks/procstats.py``, from Linux's /proc) and
the object store's
use (the raylets' ``store_stats.object_store_bytes_used``, what ``ray memory --stats-only`` prints).
Printed per
count: median wall time per trial and its ratio to the smallest count's (flat = the engine adds
no per-trial cost as sweeps grow), peak RSS of the driver and the median of each role's peak
RSS, and the peak object-store bytes divided by the trials running at once.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
import yaml
from ray._private import internal_api

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["RAY_worker_niceness"] = "0"
# the actors import raycil too, wherever the script is started from
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

from procstats import Sampler  # noqa: E402

from raycil.data.registry import check_datasets  # noqa: E402
from raycil.sweep.plan import plan_sweep  # noqa: E402
from raycil.sweep.tuner import run_sweep  # noqa: E402

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {},
    "small": {"dataset.num_classes": 10, "dataset.train_per_class": 50, "protocol.num_phases": 5,
              "memory.budget": 50, "train.epochs_first": 5, "train.epochs": 3},
}
# peak RSS of the driver and the median of each kind of actor's
ROLES = ("driver", "LearnerActor", "MemoryActor", "trial driver")


def store_sampler(sampler: Sampler) -> Callable[[], None]:
    """A hook for the sampler: the object store's bytes in use, read once a second (never
    waiting long for a busy raylet), kept as ``sampler.store_peak``."""
    sampler.store_peak = 0
    ticks = itertools.count()

    def read() -> None:
        if next(ticks) % 5:
            return
        try:
            state = internal_api.get_state_from_address()
            reply = internal_api.get_memory_info_reply(state, timeout_seconds=2.0)
        except Exception:  # noqa: BLE001  (a raylet busy or restarting: the next second asks again)
            return
        sampler.store_peak = max(sampler.store_peak, reply.store_stats.object_store_bytes_used)

    return read


def sweep_file(tmp: Path, name: str, trials: int) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "extends": str(ROOT / "configs/finetune.yaml"),
                                    "storage_path": str(tmp / "runs"), "seeds": list(range(trials)),
                                    "max_concurrent": os.cpu_count(), "profiles": {"smoke": {}}}))
    return path


def measure(trials: int, size: str, tmp: Path, tag: str) -> dict[str, float]:
    plan = plan_sweep(sweep_file(tmp, f"s{trials}_{tag}", trials), "smoke", SIZES[size])
    check_datasets(plan.datasets)  # as raycil.sweep does before Ray starts (not timed)
    sampler = Sampler()
    sampler.hooks.append(store_sampler(sampler))
    sampler.start()
    start = time.perf_counter()
    run_sweep(plan)
    wall = time.perf_counter() - start
    sampler.finish()
    concurrent = min(trials, os.cpu_count() or 1)
    peaks = sampler.peak_rss_by_role()
    return {"s_per_trial": wall / trials,
            **{f"{r}_mib": statistics.median(peaks.get(r, [math.nan])) / 2**20 for r in ROLES},
            "store_kib_per_running_trial": sampler.store_peak / 1024 / concurrent}


def plot(rows: dict[int, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    counts = sorted(rows)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(counts, [rows[n]["s_per_trial"] for n in counts], marker="o")
    left.set(xscale="log", xlabel="trials in the sweep", ylabel="wall time per trial (s)",
             title="sweep wall time per trial (median)")
    left.set_xticks(counts, [str(n) for n in counts])
    left.xaxis.set_minor_formatter(NullFormatter())
    left.set_ylim(bottom=0)
    for key, label in [*((f"{r}_mib", r) for r in ROLES),
                       ("store_kib_per_running_trial", "object store / running trial")]:
        scale = 1 / 1024 if key.startswith("store") else 1
        right.plot(counts, [rows[n][key] * scale for n in counts], marker="o", label=label)
    right.set(xscale="log", xlabel="trials in the sweep", ylabel="MiB", title="peak memory")
    right.set_xticks(counts, [str(n) for n in counts])
    right.xaxis.set_minor_formatter(NullFormatter())
    right.set_ylim(bottom=0)
    right.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", choices=list(SIZES), default="tiny")
    parser.add_argument("--plot", type=Path, default=Path("scaling.png"))
    args = parser.parse_args()
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    rows: dict[int, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as d:
            for n in args.trials:
                runs = [measure(n, args.size, Path(d), str(i)) for i in range(args.repeats)]
                rows[n] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    finally:
        ray.shutdown()
    first = rows[min(rows)]["s_per_trial"]
    for n, r in rows.items():
        roles = ", ".join(f"{x} {r[f'{x}_mib']:.0f}" for x in ROLES)
        print(f"{n:3d} trials: {r['s_per_trial']:.2f} s per trial ({r['s_per_trial'] / first:.2f}x the "
              f"{min(rows)}-trial sweep's); peak RSS MiB: {roles}; "
              f"object store {r['store_kib_per_running_trial']:.0f} KiB per running trial", flush=True)
    plot(rows, args.plot)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
