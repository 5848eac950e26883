"""CIM cost: time per phase of Table 3 row 9 (BOP) over row 1 (Baseline), and CAM boxes of
224-px images per second (the codec's compression throughput: benchmarks/bench_codecs.py).

    python benchmarks/bench_cim.py [--profile local] [--repeats 3] [--threads 1]
                                   [--images 256] [--set key=value ...]

(a) Both rows of ``ablations/cim_table3.yaml`` (seed 0) run in this process, interleaved, each
``--repeats`` times; a phase's time is the wall time from the end of the previous phase to the
end of this one (training with the φ steps, exemplar candidates, memory update, evaluation). The
table gives the median per phase and the ratio BOP / Baseline (the paper reports about 60% extra
compute; goal ≤ 1.5x). ``--set`` overrides both rows' experiment (e.g. train_per_class=200: more
steps per epoch, so one φ step per epoch weighs less).

(b) CAM boxes (ResNet-18 forward + Eq. 1-2) of 224x224 images per second, median over ``--repeats``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from bench_codecs import per_second
from bench_methods import phase_times

from raycil.cim.compression import cam_maps, mask_box
from raycil.config import ExperimentConfig, parse_value
from raycil.models import IncrementalNet, build_backbone
from raycil.sweep_config import SweepPlan, plan_sweep

TABLE = Path(__file__).resolve().parent.parent / "ablations" / "cim_table3.yaml"
ROWS = ("1-Baseline", "9-BOP")


def row_config(plan: SweepPlan, variant: str) -> ExperimentConfig:
    return plan.experiment_config(next(t for t in plan.trials if t.variant == variant and t.seed == 0))


def cam_throughput(repeats: int) -> float:
    """CAM boxes per second: a ResNet-18 forward of a batch of 32 and Eq. 1-2 on every map."""
    net = IncrementalNet(build_backbone("resnet18", 224)).eval()
    net.expand(100)
    x = torch.randn(32, 3, 224, 224)
    y = torch.randint(0, 100, (32,))

    def cam_boxes() -> None:
        with torch.no_grad():
            maps = cam_maps(net(x)["fmaps"], net.head.weight, y, (224, 224)).numpy()
        for m in maps:
            mask_box(m, 0.6)

    return per_second(cam_boxes, len(x), repeats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="local")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
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
    print(f"(b) CAM boxes of 224x224 images (ResNet-18, batch 32) per second, median of {args.repeats}, "
          f"{args.threads} thread(s): {cam_throughput(args.repeats):.1f}")


if __name__ == "__main__":
    main()
