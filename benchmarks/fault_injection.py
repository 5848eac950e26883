"""Fault injection: crash each part of a running sweep and check that nothing finished is lost.

    python benchmarks/fault_injection.py [--phases 3] [--epochs 15] [--keep DIR]

On a local multi-node Ray cluster (``ray.cluster_utils.Cluster``: a CPU-less head, two one-CPU
worker nodes), a small sweep (finetune, 2 seeds, ``--phases`` phases) runs once undisturbed as
the reference, then once per fault, each driven by ``python -m raycil.sweep --address``:

- LearnerActor / MemoryActor: its process is SIGKILLed after the first phase checkpoint (Tune
  retries the trial from its last phase);
- driver SIGKILL / SIGINT: the sweep's driver is killed (or interrupted) after the first phase
  checkpoint, then ``--resume`` is run;
- worker node: the node hosting a LearnerActor is removed after the first phase checkpoint.

Per fault it prints: the trials that finished, the phases trained more than once (a phase
counts as trained when its report reached the driver: the progress lines of every driver run of
the sweep), whether every trial's metrics equal the undisturbed run's to the last digit, and the
exit code of each driver run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
import yaml
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from raycil.sweep.checkpoints import MANIFEST

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = {"train_seconds", "images_per_s", "learner_node", "started_at", "ended_at"}
PROGRESS = re.compile(r"^\[(\w+)\] .*: phase (\d+)/\d+  top1 ", re.M)  # finished phases, not lines inside one


def sweep_file(directory: Path, phases: int, epochs: int) -> Path:
    experiment = {
        "dataset": {"name": "synthetic", "num_classes": 2 * phases, "image_size": 16, "train_per_class": 30,
                    "test_per_class": 10},
        "protocol": {"kind": "lfs", "num_phases": phases},
        "memory": {"mode": "fixed", "budget": 8, "selection": "herding"},
        "model": {"backbone": "resnet18_narrow", "width": 8},
        "method": {"name": "icarl"},
        "train": {"epochs_first": epochs, "epochs": epochs, "batch_size": 16, "lr_first": 0.05, "lr": 0.05,
                  "progress": False},
    }
    doc = {"name": "faults", "experiment": experiment, "storage_path": str(directory), "seeds": [0, 1],
           "resources": {"cpu": 1}, "max_failures": 3}
    path = directory / "faults.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def trial_phases(exp: Path) -> dict[str, list[dict[str, Any]]]:
    """Each trial's phases (``phases.json``), keyed by variant and seed (the directory name
    ``<variant>_s<seed>_<trial id>`` without the trial id, which holds one ``_`` itself)."""
    return {d.name.rsplit("_", 2)[0]: json.loads((d / "phases.json").read_text())
            for d in sorted(exp.iterdir()) if (d / "phases.json").is_file()}


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = (set(a) | set(b)) - VOLATILE - {"trial_id", "config"}
    return all(a.get(k) == b.get(k) or (isinstance(a.get(k), float) and isinstance(b.get(k), float)
                                        and math.isnan(a[k]) and math.isnan(b[k])) for k in keys)


class Sweep:
    """One sweep of the study, run by driver subprocesses on the cluster at ``address``."""

    def __init__(self, path: Path, name: str, address: str):
        self.cmd = [sys.executable, "-m", "raycil.sweep", str(path), "--address", address,
                    "--set", f"name={name}"]
        self.exp = path.parent / name
        self.outputs: list[str] = []
        self.codes: list[int] = []  # exit code of each driver run

    def start(self, resume: bool = False) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.Popen(self.cmd + (["--resume"] if resume else []), cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    def finish(self, driver: subprocess.Popen[str]) -> int:
        out, _ = driver.communicate(timeout=1800)
        self.outputs.append(out)
        self.codes.append(driver.returncode)
        return driver.returncode

    def first_checkpoint(self, driver: subprocess.Popen[str], timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not list(self.exp.glob(f"*/checkpoint_*/{MANIFEST}")):
            if driver.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.exp.name}: the sweep ended before the fault could be injected")
            time.sleep(0.05)

    def phases_trained_twice(self) -> int:
        counts = Counter(PROGRESS.findall("\n".join(self.outputs)))
        return sum(n - 1 for n in counts.values() if n > 1)


def alive_actor(role: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [a for a in list_actors(filters=[("state", "=", "ALIVE")]) if (a.name or "").startswith(role)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise RuntimeError(f"no {role} alive to inject the fault into")


def kill_actor(role: str) -> Callable[[Sweep, subprocess.Popen[str], Cluster], subprocess.Popen[str] | None]:
    def fault(sweep: Sweep, driver: subprocess.Popen[str], cluster: Cluster) -> None:
        os.kill(alive_actor(role).pid, signal.SIGKILL)
    return fault


def stop_driver(sig: int) -> Callable[[Sweep, subprocess.Popen[str], Cluster], subprocess.Popen[str] | None]:
    def fault(sweep: Sweep, driver: subprocess.Popen[str], cluster: Cluster) -> subprocess.Popen[str]:
        os.kill(driver.pid, sig)
        sweep.finish(driver)
        return sweep.start(resume=True)
    return fault


def remove_node(sweep: Sweep, driver: subprocess.Popen[str], cluster: Cluster) -> None:
    node = alive_actor("LearnerActor").node_id
    cluster.remove_node(next(n for n in cluster.worker_nodes if n.node_id == node))
    cluster.add_node(num_cpus=1)  # the cluster keeps its size; the trial moves to a live node


FAULTS = {"LearnerActor SIGKILL": kill_actor("LearnerActor"),
          "MemoryActor SIGKILL": kill_actor("MemoryActor"),
          "driver SIGKILL": stop_driver(signal.SIGKILL),
          "driver SIGINT": stop_driver(signal.SIGINT),
          "worker node removed": remove_node}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--keep", help="a folder for the sweeps (default: a temporary one, removed)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(args.keep or tmp).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        path = sweep_file(directory, args.phases, args.epochs)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": True})
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            reference = Sweep(path, "undisturbed", cluster.address)
            if reference.finish(reference.start()) != 0:
                raise RuntimeError("the undisturbed sweep failed:\n" + reference.outputs[-1][-3000:])
            expected = trial_phases(reference.exp)
            print(f"{len(expected)} trials x {args.phases} phases (icarl, seeds 0 and 1), undisturbed: "
                  f"{len(expected)} finished")
            print(f"{'fault':22s} {'finished':>9s} {'phases redone':>14s} {'same metrics':>13s}  exit codes")
            for i, (name, inject) in enumerate(FAULTS.items()):
                sweep = Sweep(path, f"fault{i}", cluster.address)
                driver = sweep.start()
                sweep.first_checkpoint(driver)
                driver = inject(sweep, driver, cluster) or driver
                sweep.finish(driver)
                got = trial_phases(sweep.exp)
                finished = sum(len(p) == args.phases for p in got.values())
                equal = got.keys() == expected.keys() and all(
                    len(got[k]) == len(expected[k]) and all(map(same, got[k], expected[k])) for k in expected)
                print(f"{name:22s} {finished:>5d}/{len(expected):<3d} {sweep.phases_trained_twice():>14d} "
                      f"{'yes' if equal else 'NO':>13s}  {' then '.join(map(str, sweep.codes))}")
        finally:
            ray.shutdown()
            cluster.shutdown()


if __name__ == "__main__":
    main()
