"""Your own data at the built-in data's speed: an ``imagefolder`` tree of 32-px PNGs against the
same images generated in memory.

    python benchmarks/bench_imagefolder.py [--repeats 3] [--epochs 2] [--threads N]

The tree is the built-in data written by ``raycil.data.export_tree`` (20 classes x 100 training
and 40 test images). Per repeat, run alternately: ``synthetic`` (generate the data, train phase
1), ``tree, first run`` (an empty cache: scan, decode and cache the tree, then train), ``tree,
cached`` (scan, map the cache, train). Reported: medians of data-loading seconds, training
images/s and end-to-end images/s (training images over loading + training), their ratios to
``synthetic``, and the cache's build time and size on disk.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from raycil.config import build_config
from raycil.data import registry
from raycil.data.export_tree import export_tree
from raycil.data.protocol import phase_contexts
from raycil.plugins.assembly import make_learner

DATA = {"num_classes": 20, "image_size": 32, "train_per_class": 100, "test_per_class": 40}


def one_run(dataset: dict[str, Any], epochs: int) -> dict[str, float]:
    """Load the data (the per-process copy dropped first) and train phase 1."""
    cfg = build_config({"device": "cpu", "dataset": dataset, "protocol": {"kind": "lfs", "num_phases": 5},
                        "model": {"backbone": "resnet20"},
                        "train": {"epochs_first": epochs, "batch_size": 64, "progress": False}})
    registry._load_cached.cache_clear()
    start = time.perf_counter()
    learner = make_learner(cfg)  # loads the dataset
    load = time.perf_counter() - start
    empty = (np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, np.int64))
    fit = learner.train_phase(phase_contexts(cfg.protocol, cfg.num_classes)[0], empty)
    return {"load_s": load, "train_images_per_s": fit["images_per_s"],
            "end_to_end_images_per_s": fit["train_images"] / (load + fit["train_seconds"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench_imagefolder_"))
    try:
        tree = export_tree(work / "tree", DATA["num_classes"], DATA["train_per_class"],
                           DATA["test_per_class"])
        tree_bytes = sum(p.stat().st_size for p in tree.rglob("*.png"))
        rows: dict[str, list[dict[str, float]]] = {"synthetic": [], "tree, first run": [], "tree, cached": []}
        cache_bytes = 0
        for r in range(args.repeats):
            cache = work / f"cache{r}"
            folder = {"name": "imagefolder", "root": str(tree), "cache_dir": str(cache)}
            rows["synthetic"].append(one_run({"name": "synthetic", **DATA}, args.epochs))
            rows["tree, first run"].append(one_run(folder, args.epochs))
            cache_bytes = sum(p.stat().st_size for p in cache.glob("*.npy"))
            rows["tree, cached"].append(one_run(folder, args.epochs))
        base = {k: statistics.median(r[k] for r in rows["synthetic"]) for k in rows["synthetic"][0]}
        print(f"{DATA['num_classes']} classes x {DATA['train_per_class']} + {DATA['test_per_class']} images "
              f"of 32 px ({tree_bytes / 1e6:.1f} MB of PNG); phase 1 for {args.epochs} epochs; "
              f"{args.repeats} repeats, {torch.get_num_threads()} threads; medians")
        print(f"{'':18s} {'load s':>8s} {'train img/s':>12s} {'x synth':>8s} {'end-to-end img/s':>17s} "
              f"{'x synth':>8s}")
        for name, runs in rows.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"{name:18s} {med['load_s']:8.2f} {med['train_images_per_s']:12.1f} "
                  f"{med['train_images_per_s'] / base['train_images_per_s']:8.3f} "
                  f"{med['end_to_end_images_per_s']:17.1f} "
                  f"{med['end_to_end_images_per_s'] / base['end_to_end_images_per_s']:8.3f}")
        build = statistics.median(r["load_s"] for r in rows["tree, first run"])
        print(f"cache: built in {build:.2f} s (scan + decode + write, in the first run's load), "
              f"{cache_bytes / 1e6:.2f} MB on disk for "
              f"{DATA['num_classes'] * (DATA['train_per_class'] + DATA['test_per_class'])} images")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
