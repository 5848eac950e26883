"""GPU throughput: how many trials share one GPU well, at which precision and memory layout.

    python benchmarks/bench_gpu.py [--repeats 3] [--trials 1 2 4] [--precision fp32 bf16 fp16]
                                   [--channels-last off on] [--config configs/icarl.yaml]
                                   [--profile local] [--phases 2] [--set KEY=VALUE ...]

Per number of concurrent trials k, k Ray actors each holding ``1/k`` of the GPU (what a sweep's
``resources.gpu: 1 / 0.5 / 0.25`` lets Ray place on one GPU) run the first ``--phases`` phases of
the experiment (``raycil.learner.phases.run_phases``: training, memory update, evaluation) at the same
time, once per precision and layout, interleaved, ``--repeats`` times. Printed per row, medians
over the repeats: training images/s of all k trials together (their ``fit`` images over the wall
time from the first start to the last end, evaluation and memory updates included in the time),
training images/s of one trial (its ``fit`` images over its ``fit`` seconds), the GPU's mean
utilisation over the window and its peak memory in use (``torch.cuda.utilization`` /
``memory_usage`` through pynvml when installed, else ``nvidia-smi`` polled in a thread; none is a
dependency). Each actor first runs one short warm-up per precision and layout (CUDA context,
kernels). The defaults (configs/icarl.yaml, local profile, 2 phases: about 21k training images
per trial) are meant to fit in about 5 minutes on an H100 / H200. Without a CUDA GPU it prints
one line and exits 0.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]


def nvidia_smi(fields: str) -> str:
    """``nvidia-smi``'s values of ``fields`` for the first visible GPU (driver processes create
    no CUDA context here: the actors own the GPU)."""
    gpu = (os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[0]
    return subprocess.run(["nvidia-smi", "-i", gpu, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                          capture_output=True, text=True, timeout=10).stdout.strip()


class GpuSampler:
    """Utilisation (%) and memory in use (MiB) of one GPU, sampled in a background thread."""

    def __init__(self, every: float):
        self.every, self.samples = every, []  # (time, utilisation, MiB)
        self.stop = threading.Event()
        self.source = self._pick()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _pick(self) -> str:
        try:
            torch.cuda.utilization(0)  # both through pynvml (nvidia-ml-py), if installed
            torch.cuda.device_memory_used(0)
            return "pynvml"
        except Exception:  # noqa: BLE001 - any failure: fall back
            return "nvidia-smi" if shutil.which("nvidia-smi") else "none"

    def _read(self) -> tuple[float, float] | None:
        if self.source == "pynvml":
            return float(torch.cuda.utilization(0)), float(torch.cuda.device_memory_used(0)) / 2**20
        if self.source == "nvidia-smi":
            out = nvidia_smi("utilization.gpu,memory.used").split(",")
            return float(out[0]), float(out[1])
        return None

    def _loop(self) -> None:
        while not self.stop.wait(self.every):
            try:
                got = self._read()
            except Exception:  # noqa: BLE001 - a failed sample is skipped
                got = None
            if got is not None:
                self.samples.append((time.time(), *got))

    def window(self, start: float, end: float) -> tuple[float, float]:
        """Mean utilisation and peak MiB between ``start`` and ``end`` (NaN without samples)."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if not inside:
            return float("nan"), float("nan")
        return statistics.fmean(s[1] for s in inside), max(s[2] for s in inside)


def trial_actor(share: float) -> Any:
    import ray

    @ray.remote(num_cpus=1, num_gpus=share if torch.cuda.is_available() else 0)
    class Trial:
        """One trial's learner and memory in their own process, on its share of the GPU."""

        def run(self, config: str, profile: str, sets: list[str], phases: int) -> dict[str, float]:
            from raycil.config import load_config
            from raycil.learner.phases import run_phases
            from raycil.plugins.assembly import make_learner, make_memory

            cfg = load_config(config, profile, sets)
            torch.set_num_threads(cfg.threads)
            learner, memory = make_learner(cfg), make_memory(cfg)
            fits: list[dict[str, float]] = []

            class Enough(Exception):
                pass

            def on_phase(metrics: dict[str, Any], _: list[dict[str, Any]]) -> None:
                fits.append(metrics)
                if metrics["phase"] >= phases:
                    raise Enough

            sync = torch.cuda.synchronize if cfg.device == "cuda" else (lambda: None)
            sync()
            start = time.time()
            try:
                run_phases(cfg, learner, memory, on_phase=on_phase)
            except Enough:
                pass
            sync()
            return {"start": start, "end": time.time(), "images": sum(f["train_images"] for f in fits),
                    "train_seconds": sum(f["train_seconds"] for f in fits)}

    return Trial


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, nargs="+", default=[1, 2, 4],
                        help="concurrent trials per GPU (each holds 1/k of it)")
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16", "fp16"],
                        choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--channels-last", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--config", default="configs/icarl.yaml")
    parser.add_argument("--profile", default="local")
    parser.add_argument("--phases", type=int, default=2, help="phases each trial runs")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="experiment override for every run (repeatable)")
    parser.add_argument("--sample-every", type=float, default=0.2, help="GPU sampling period (s)")
    parser.add_argument("--check-on-cpu", action="store_true",
                        help="without a GPU: run the same actors on the CPU (no fp16) to check this script; "
                             "the numbers mean nothing")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and args.check_on_cpu:
        args.precision = [p for p in args.precision if p != "fp16"]
    elif device == "cpu":
        print("bench_gpu: no CUDA GPU on this machine (torch.cuda.is_available() is False); nothing measured")
        return 0

    import ray

    config = str((ROOT / args.config).resolve()) if not Path(args.config).is_absolute() else args.config
    combos = list(itertools.product(args.precision, args.channels_last))
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    ray.init(num_gpus=1 if device == "cuda" else 0, num_cpus=max(max(args.trials) + 1, os.cpu_count() or 1),
             include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    sampler = GpuSampler(args.sample_every)
    sampler.thread.start()
    name = nvidia_smi("name") if shutil.which("nvidia-smi") and device == "cuda" else device
    print(f"{name}; {args.config} --profile {args.profile}, {args.phases} phases, "
          f"{args.repeats} repeats; GPU samples: {sampler.source}", flush=True)
    print(f"{'precision':>9} {'chan_last':>9} {'trials':>6} {'gpu':>5} {'img/s all':>10} {'img/s one':>10} "
          f"{'util %':>7} {'peak MiB':>9}  runs (img/s all)", flush=True)
    try:
        for k in args.trials:
            actor = trial_actor(1 / k)
            pool = [actor.remote() for _ in range(k)]

            def sets(precision: str, layout: str) -> list[str]:
                return [f"device={device}", "train.progress=false", f"train.precision={precision}",
                        f"train.channels_last={'true' if layout == 'on' else 'false'}", *args.overrides]

            warm = ["train.epochs_first=1", "train.epochs=1"]
            ray.get([a.run.remote(config, args.profile, [*sets(p, c), *warm], 1)
                     for a in pool for p, c in combos])
            rows: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {c: [] for c in combos}
            for _ in range(args.repeats):
                for precision, layout in combos:
                    out = ray.get([a.run.remote(config, args.profile, sets(precision, layout), args.phases)
                                   for a in pool])
                    start, end = min(o["start"] for o in out), max(o["end"] for o in out)
                    util, mib = sampler.window(start, end)
                    one = statistics.median(o["images"] / o["train_seconds"] for o in out)
                    rows[(precision, layout)].append((sum(o["images"] for o in out) / (end - start), one,
                                                      util, mib))
            for (precision, layout), runs in rows.items():
                med = [statistics.median(r[i] for r in runs) for i in range(3)] + [max(r[3] for r in runs)]
                print(f"{precision:>9} {layout:>9} {k:>6} {1 / k:>5.2f} {med[0]:>10.0f} {med[1]:>10.0f} "
                      f"{med[2]:>7.1f} {med[3]:>9.0f}  {', '.join(f'{r[0]:.0f}' for r in runs)}", flush=True)
            for a in pool:
                ray.kill(a)
    finally:
        sampler.stop.set()
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
