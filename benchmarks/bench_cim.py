"""CIM cost: time per phase of Table 3 row 9 (BOP) over row 1 (Baseline), and compression
throughput of 224-px images.

    python benchmarks/bench_cim.py [--profile local] [--repeats 3] [--threads 1]
                                   [--images 256] [--set key=value ...]

(a) Both rows of ``ablations/cim_table3.yaml`` (seed 0) run in this process, interleaved, each
``--repeats`` times; a phase's time is the wall time from the end of the previous phase to the
end of this one (training with the φ steps, exemplar candidates, memory update, evaluation). The
table gives the median per phase and the ratio BOP / Baseline (the paper reports about 60% extra
compute; goal ≤ 1.5x). ``--set`` overrides both rows' experiment (e.g. train_per_class=200: more
steps per epoch, so one φ step per epoch weighs less).

(b) Compression of random-box 224x224 RGB images (Eq. 3 + compressed storage, and decoding), and
CAM boxes (ResNet-18 forward + Eq. 1-2) per second, median over ``--repeats``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from bench_methods import phase_times

from raycil.cim.compression import cam_maps, mask_box, random_box
from raycil.cim.storage import CompressedExemplar
from raycil.config import ExperimentConfig, parse_value
from raycil.models import IncrementalNet, build_backbone
from raycil.sweep_config import SweepPlan, plan_sweep

TABLE = Path(__file__).resolve().parent.parent / "ablations" / "cim_table3.yaml"
ROWS = ("1-Baseline", "9-BOP")


def row_config(plan: SweepPlan, variant: str) -> ExperimentConfig:
    return plan.experiment_config(next(t for t in plan.trials if t.variant == variant and t.seed == 0))


def per_second(fn: Callable[[], object], n: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def compression_throughput(n: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
    boxes = [random_box(224, 224, rng) for _ in range(n)]
    stored = [CompressedExemplar.encode(im, b, 4.0) for im, b in zip(images, boxes, strict=True)]
    net = IncrementalNet(build_backbone("resnet18", 224)).eval()
    net.expand(100)
    x = torch.randn(32, 3, 224, 224)
    y = torch.randint(0, 100, (32,))

    def cam_boxes() -> None:
        with torch.no_grad():
            maps = cam_maps(net(x)["fmaps"], net.head.weight, y, (224, 224)).numpy()
        for m in maps:
            mask_box(m, 0.6)

    def encode() -> None:
        for im, b in zip(images, boxes, strict=True):
            CompressedExemplar.encode(im, b, 4.0)

    return {
        "encode (Eq. 3 + storage)": per_second(encode, n, repeats),
        "decode": per_second(lambda: [e.decode() for e in stored], n, repeats),
        "CAM boxes (ResNet-18, batch 32)": per_second(cam_boxes, len(x), repeats),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="local")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {k: parse_value(v) for k, v in (o.split("=", 1) for o in args.overrides)}
    overrides["train.progress"] = False
    plan = plan_sweep(TABLE, args.profile, overrides)
    times: dict[str, list[list[float]]] = {row: [] for row in ROWS}
    for _ in range(args.repeats):
        for row in ROWS:
            times[row].append(phase_times(row_config(plan, row)))
    print(f"(a) time per phase, median of {args.repeats} runs, {args.threads} thread(s), "
          f"profile {args.profile} {' '.join(args.overrides)}")
    print("phase  " + "  ".join(f"{row:>12}" for row in ROWS) + "  BOP/Baseline")
    medians = {row: [statistics.median(run[p] for run in times[row]) for p in range(len(times[row][0]))]
               for row in ROWS}
    for p in range(len(medians[ROWS[0]])):
        base, bop = medians[ROWS[0]][p], medians[ROWS[1]][p]
        print(f"{p + 1:>5}  {base:>11.1f}s  {bop:>11.1f}s  {bop / base:>12.2f}")
    total = {row: sum(medians[row]) for row in ROWS}
    base, bop = total[ROWS[0]], total[ROWS[1]]
    print(f"total  {base:>11.1f}s  {bop:>11.1f}s  {bop / base:>12.2f}")
    print(f"(b) 224x224 images per second, median of {args.repeats}, {args.threads} thread(s):")
    for name, rate in compression_throughput(args.images, args.repeats).items():
        print(f"  {name:<34} {rate:>9.1f}")


if __name__ == "__main__":
    main()
