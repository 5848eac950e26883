"""How long a trial's phase takes when the exemplar memory is large (not a test).

One trial through ``raycil.sweep`` (local Ray) with no training (0 epochs) and random exemplar
selection, so a phase is little more than moving the exemplars between the trial's actors,
storing the new classes' exemplars, evaluating and checkpointing. It runs twice in the same
Ray session: with a memory holding every training image (``--budget``, by default 2,000
images of ``--size`` px) and with a 20-image memory (the baseline). Printed: the median phase
wall time of each (Tune's ``time_this_iter_s`` over phases 2..N and ``--repeats`` runs), their
difference (the cost that grows with the memory) and ratio, and the memory's bytes.

    python benchmarks/bench_exemplar_path.py [--repeats 3] [--size 96] [--budget 2000]

Run against two checkouts (``PYTHONPATH=<checkout> python benchmarks/bench_exemplar_path.py``)
to compare the exemplar path of two versions on the same machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import ray
import yaml

os.environ["RAY_worker_niceness"] = "0"  # trials compete with nothing else at a lower priority

from raycil.sweep.plan import plan_sweep  # noqa: E402
from raycil.sweep.tuner import run_sweep  # noqa: E402


def experiment(size: int, budget: int) -> dict[str, Any]:
    return {
        "dataset": {"name": "synthetic", "num_classes": 20, "image_size": size, "train_per_class": 100,
                    "test_per_class": 5},
        "protocol": {"kind": "lfs", "num_phases": 5},
        "memory": {"mode": "fixed", "budget": budget, "selection": "random"},
        "model": {"backbone": "resnet18_narrow", "width": 4},
        "method": {"name": "finetune"},
        "train": {"epochs_first": 0, "epochs": 0, "batch_size": 64, "progress": False},
    }


def phase_seconds(tmp: Path, name: str, size: int, budget: int) -> tuple[list[float], float]:
    """Wall seconds of phases 2..N of one trial, and the memory's bytes after the last phase."""
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "experiment": experiment(size, budget),
                                    "storage_path": str(tmp / "runs"), "resources": {"cpu": 1}}))
    result = run_sweep(plan_sweep(path))[0]
    frame = result.metrics_dataframe.sort_values("phase")
    return frame["time_this_iter_s"].tolist()[1:], float(frame["memory_bytes"].iloc[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=96, help="image side in pixels")
    parser.add_argument("--budget", type=int, default=2000, help="memory units of the large memory")
    args = parser.parse_args()
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    times: dict[str, list[float]] = {"large": [], "small": []}
    nbytes: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as d:
            for r in range(args.repeats):
                for label, budget in (("large", args.budget), ("small", 20)):
                    secs, nbytes[label] = phase_seconds(Path(d), f"{label}{r}", args.size, budget)
                    times[label] += secs
    finally:
        ray.shutdown()
    large, small = statistics.median(times["large"]), statistics.median(times["small"])
    print(f"memory of {nbytes['large'] / 2**20:.1f} MiB vs {nbytes['small'] / 2**20:.2f} MiB "
          f"({args.size} px images), median phase over {len(times['large'])} phases:")
    print(f"  large memory {large:.3f} s   small memory {small:.3f} s   difference {large - small:.3f} s   "
          f"ratio {large / small:.2f}")


if __name__ == "__main__":
    main()
