"""MFGR cost: training the generator after a phase (knowledge recording, Eq. 7) against that
phase's classifier training, the replay's cost in the next phase (Eq. 8) against the same phase
without it, and what serving the replay moves: the generator's weights or the generated images.

    python benchmarks/bench_mfgr.py [--repeats 3] [--ratios 1 3] [--threads 1]

configs/mfgr.yaml (local profile) through its first two phases, ``--repeats`` times: phase 1's
training (LwF, 4 classes), the generator's recording from that network, then phase 2 (4 new
classes) trained from the same state once without a generator (LwF) and once with it at each
G:N ``--ratio``. The table gives the medians and the ratios; bytes are per phase.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path
from typing import Any

import torch

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "mfgr.yaml"


def one_repeat(cfg: Any, ratios: list[float]) -> dict[str, float]:
    """Seconds of phase 1, of the recording, of phase 2 without and with replay; bytes."""
    from raycil.data.protocol import phase_contexts
    from raycil.plugins.assembly import make_learner, make_memory

    first, second = phase_contexts(cfg.protocol, cfg.num_classes)[:2]
    learner, memory = make_learner(cfg), make_memory(cfg)
    clock = time.perf_counter
    t0 = clock()
    learner.train_phase(first, memory.exemplars())
    t1 = clock()
    learner.after_phase(first, memory.exemplars())
    t2 = clock()
    generator = learner.record_generator(first)
    out = {"phase1": t1 - t0, "record": clock() - t2}
    memory.keep_generator(generator)
    out["generator_bytes"] = memory.stats()["generator_bytes"]
    state = copy.deepcopy(learner.state())
    plugin = learner.plugins[0]
    for r in [0.0, *ratios]:
        learner.load_state(copy.deepcopy(state))
        if r:
            plugin.settings = plugin.settings.model_copy(update={"ratio": r})
        t0 = clock()
        learner.train_phase(second, memory.exemplars(), generator if r else None)
        out[f"phase2_r{r:g}"] = clock() - t0
        if r:
            out[f"replay_bytes_r{r:g}"] = plugin.stats()["mfgr_replay_bytes"]
    return out


def measure(ratios: list[float], repeats: int) -> dict[str, float]:
    """Medians over ``repeats`` of :func:`one_repeat` (a fresh learner each time)."""
    from raycil.config import load_config

    cfg = load_config(CONFIG, "local", {"device": "cpu", "train.progress": False})
    runs = [one_repeat(cfg, ratios) for _ in range(repeats)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ratios", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    r = measure(args.ratios, args.repeats)
    print(f"configs/mfgr.yaml (local), median of {args.repeats}, {args.threads} thread(s):")
    print(f"  phase 1 training {r['phase1']:.1f} s; generator recording {r['record']:.1f} s "
          f"= {r['record'] / r['phase1']:.2f}x the phase's training")
    print(f"  phase 2 training without replay {r['phase2_r0']:.1f} s")
    for g in args.ratios:
        t = r[f"phase2_r{g:g}"]
        print(f"  phase 2 with replay G:N = {g:g}:1  {t:.1f} s = {t / r['phase2_r0']:.2f}x; "
              f"generated images as float32 batches {r[f'replay_bytes_r{g:g}'] / 2**20:.1f} MiB "
              f"vs the generator's weights {r['generator_bytes'] / 2**20:.2f} MiB "
              f"({r[f'replay_bytes_r{g:g}'] / r['generator_bytes']:.0f}x)")


if __name__ == "__main__":
    main()
