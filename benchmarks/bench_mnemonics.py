"""Mnemonics cost: the exemplar-level optimisation of a phase (Eq. 9 on the new exemplars, Eq. 10
on the old ones) against that phase's model training, and the peak memory the unrolled inner
steps add.

    python benchmarks/bench_mnemonics.py [--repeats 3] [--unroll 1 2 4] [--threads 1]

For each ``--unroll`` (inner steps kept in the graph) a fresh process runs configs/mnemonics.yaml
(local profile) through its first two phases ``--repeats`` times, timing each phase's training
(``train_phase``) and its exemplar-level step (``refine_exemplars``: phase 1 trains 60 new
exemplars on 500 images, phase 2 trains 12 on 100 and adjusts 48 old ones); the table gives the
medians and their ratio. The extra peak RSS is the process's high-water mark (``ru_maxrss``)
after the first phase-1 refinement minus before it: what the unrolled graphs add on top of
training.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "mnemonics.yaml"


def measure(unroll: int, repeats: int) -> dict[str, list[float]]:
    """Per phase (1, 2): median seconds of training and of the exemplar-level step; and the peak
    RSS the first exemplar-level step added (MiB)."""
    from raycil.config import load_config
    from raycil.data.protocol import phase_contexts
    from raycil.plugins.assembly import make_learner, make_memory

    cfg = load_config(CONFIG, "local", {"mnemonics.unroll": unroll, "device": "cpu",
                                        "train.progress": False})
    contexts = phase_contexts(cfg.protocol, cfg.num_classes)[:2]
    train: list[list[float]] = [[], []]
    refine: list[list[float]] = [[], []]
    extra = 0.0
    for repeat in range(repeats):
        learner, memory = make_learner(cfg), make_memory(cfg)
        for i, ctx in enumerate(contexts):
            t0 = time.perf_counter()
            learner.train_phase(ctx, memory.exemplars())
            train[i].append(time.perf_counter() - t0)
            memory.update(ctx, learner.exemplar_candidates(ctx, memory.needs_features()))
            exemplars = memory.exemplars()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t0 = time.perf_counter()
            refined = learner.refine_exemplars(ctx, exemplars)
            refine[i].append(time.perf_counter() - t0)
            if repeat == 0 and i == 0:
                extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
            memory.rewrite(refined)
    return {"train_s": [statistics.median(t) for t in train],
            "refine_s": [statistics.median(r) for r in refine], "extra_peak_mib": [extra]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unroll", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one setting
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.one is not None:
        print(json.dumps(measure(args.one, args.repeats)))
        return
    print(f"configs/mnemonics.yaml (local), median of {args.repeats}, {args.threads} thread(s):")
    print(f"  {'unroll':>6} {'phase':>5} {'training s':>11} {'exemplar-level s':>17} {'ratio':>6} "
          f"{'extra peak RSS MiB':>19}")
    for unroll in args.unroll:
        out = subprocess.run([sys.executable, __file__, "--one", str(unroll), "--repeats", str(args.repeats),
                              "--threads", str(args.threads)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        for phase, (train, refine) in enumerate(zip(r["train_s"], r["refine_s"], strict=True), start=1):
            peak = f"{r['extra_peak_mib'][0]:>19.1f}" if phase == 1 else ""
            print(f"  {unroll:>6} {phase:>5} {train:>11.2f} {refine:>17.2f} {refine / train:>6.2f} {peak}")

if __name__ == "__main__":
    main()
