"""CIM cost: time per phase of Table 3 row 9 (BOP) over row 1 (Baseline), split by part; CAM boxes
of 224-px images per second; one φ step against one plain training step.

    python benchmarks/bench_cim.py [--profile local] [--repeats 3] [--threads 1] [--parts abc]
                                   [--set key=value ...] [--json times.json]

(a) Both rows of ``ablations/cim_table3.yaml`` (seed 0) run in this process, interleaved, each
``--repeats`` times; a phase's time is from the end of the previous phase to the end of this one
(training with the φ steps, exemplar candidates, memory update, evaluation), as wall time and as
the process's CPU time (with one thread, what the phase computed: far less sensitive than wall
time to other work on a shared machine). The tables give the median per phase and the ratio BOP /
Baseline (the paper reports about 60% extra compute). ``--set`` overrides both rows' experiment
(e.g. dataset.train_per_class=250: more steps per epoch, so one φ step per epoch weighs less;
train.epochs=4 train.epochs_first=6: a shorter run). ``--json`` keeps the raw times.

Each BOP phase is also split by part (exclusive CPU time of the functions named in ``PARTS``,
wrapped for the run; a nested part's time is not counted in its caller's): plain training (the
training loop without the plug-in's hooks), the φ (outer) steps, the artifact augmentation's box
refreshes and its per-epoch compression, the exemplar candidates' boxes (CAM / CIM maps),
compression and embedding, ``score_boxes`` (the report's IoU statistics) and the rest (memory
update, iCaRL's class means, evaluation). Each part is given in seconds (median over the
repeats) and as a multiple of the Baseline phase's CPU time in the same run. Functions missing
from the code being measured are skipped, so the same file times earlier versions of the plug-in
(``PYTHONPATH`` set to their checkout).

(b) CAM boxes (ResNet-18 forward + Eq. 1-2) of 224x224 images per second, median over ``--repeats``.

(c) CPU time of one φ step (Eq. 7-9) against one plain training step of the BOP row's network at
the start of phase 2, of the φ step with the PAUs replaced by a ReLU times one coefficient (how
much of it is the PAUs' own elementwise work; cost only), and the φ step by stage (the branch's
forwards, the inner loss and its gradient kept in the graph, the forward with θ⁺, the backward
to φ through all of it).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from bench_codecs import per_second

from raycil.config import ExperimentConfig
from raycil.config.overrides import parse_value
from raycil.learner.phases import run_phases
from raycil.models.backbones import build_backbone
from raycil.models.network import IncrementalNet
from raycil.plugins.assembly import make_learner, make_memory
from raycil.plugins.cim.compression import mask_box
from raycil.plugins.cim.differentiable import cam_maps
from raycil.sweep.plan import SweepPlan, plan_sweep

TABLE = Path(__file__).resolve().parent.parent / "ablations" / "cim_table3.yaml"
ROWS = ("1-Baseline", "9-BOP")

# (module, attribute path, part, callers): the function's exclusive time is charged to ``part`` when
# it runs under one of the ``callers`` parts (None: anywhere); otherwise it is its caller's time.
# Attributes that do not exist in the code being measured are skipped (so the benchmark measures
# earlier versions of the plug-in too).
PARTS: list[tuple[str, str, str, set[str] | None]] = [
    ("raycil.learner.learner", "Learner.fit", "train", None),
    ("raycil.plugins.cim.plugin", "PhaseHooks.on_epoch_end", "phi", {"train"}),
    ("raycil.plugins.cim.plugin", "PhaseHooks.after_step", "phi", {"train"}),
    ("raycil.plugins.cim.augment", "ArtifactAugmentation.on_epoch_start", "aug_compress", {"train"}),
    ("raycil.plugins.cim.augment", "class_activation_maps", "aug_boxes", {"aug_compress"}),
    ("raycil.plugins.cim.augment", "ArtifactAugmentation.refresh_boxes", "aug_boxes", {"aug_compress"}),
    ("raycil.plugins.cim.plugin", "CimPlugin.candidates", "cand_boxes", None),
    ("raycil.plugins.cim.plugin", "compress_all", "cand_compress", {"cand_boxes"}),
    ("raycil.learner.learner", "Learner.embed", "cand_embed", {"cand_boxes"}),
    ("raycil.plugins.cim.plugin", "CimPlugin.score_boxes", "score_boxes", {"cand_boxes"}),
]
PART_NAMES = {"train": "plain training", "phi": "φ steps", "aug_boxes": "aug. box refreshes",
              "aug_compress": "aug. compression", "cand_boxes": "candidate boxes",
              "cand_compress": "candidate compression", "cand_embed": "candidate embedding",
              "score_boxes": "score_boxes", "rest": "rest (memory, class means, eval)"}


class PartTimer:
    """Exclusive wall time per part, per phase, of the wrapped functions."""

    def __init__(self, clock: Callable[[], float] = time.process_time) -> None:
        self.clock = clock
        self.stack: list[list[Any]] = []  # [part, start, time of nested parts]
        self.times: dict[str, float] = defaultdict(float)

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        frame = [name, self.clock(), 0.0]
        self.stack.append(frame)
        try:
            yield
        finally:
            self.stack.pop()
            elapsed = self.clock() - frame[1]
            self.times[name] += elapsed - frame[2]
            if self.stack:
                self.stack[-1][2] += elapsed

    def wrap(self, fn: Callable[..., Any], name: str, callers: set[str] | None) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            caller = self.stack[-1][0] if self.stack else None
            if callers is not None and caller not in callers:
                return fn(*args, **kwargs)
            with self.part(name):
                return fn(*args, **kwargs)
        return timed

    def take(self) -> dict[str, float]:
        out, self.times = dict(self.times), defaultdict(float)
        return out


@contextmanager
def wrapped(timer: PartTimer) -> Iterator[list[str]]:
    """Install the ``PARTS`` wrappers for the duration; yields the attributes found."""
    undo, found = [], []
    for module, path, name, callers in PARTS:
        owner: Any = importlib.import_module(module)
        *outer, attr = path.split(".")
        try:
            for part in outer:
                owner = getattr(owner, part)
            fn = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        except (AttributeError, KeyError):
            continue
        setattr(owner, attr, timer.wrap(fn, name, callers))
        undo.append((owner, attr, fn))
        found.append(f"{module}.{path}")
    try:
        yield found
    finally:
        for owner, attr, fn in reversed(undo):
            setattr(owner, attr, fn)


def timed_phases(cfg: ExperimentConfig, timer: PartTimer) -> list[dict[str, float]]:
    """Per phase of one run: ``wall`` and ``cpu`` seconds (the process's CPU time) and the CPU
    seconds of every part (``rest``: the phase's CPU time the wrapped parts leave)."""
    learner, memory = make_learner(cfg), make_memory(cfg)
    out: list[dict[str, float]] = []
    stamp = [time.perf_counter(), timer.clock()]
    timer.take()

    def on_phase(metrics: dict[str, Any], history: list[dict[str, Any]]) -> None:
        wall, cpu = time.perf_counter(), timer.clock()
        parts = timer.take()
        parts["rest"] = cpu - stamp[1] - sum(parts.values())
        out.append({"wall": wall - stamp[0], "cpu": cpu - stamp[1], **parts})
        stamp[:] = [wall, cpu]

    run_phases(cfg, learner, memory, on_phase=on_phase)
    return out


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


def median_parts(runs: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    keys = {k for run in runs for phase in run for k in phase}
    return [{k: statistics.median(run[p].get(k, 0.0) for run in runs) for k in keys}
            for p in range(len(runs[0]))]


def phi_step_cost(plan: SweepPlan, repeats: int) -> dict[str, float]:
    """(c) CPU seconds of one φ step (Eq. 7-9, outer batch of new images + exemplars) against one
    plain training step (the config's batch of new images, the method's loss, SGD), both on the
    BOP row's network after a first phase of one epoch, at the start of phase 2; and the same φ
    step with every PAU replaced by ReLU times one φ coefficient (the PAUs' own share; cost only,
    not the algorithm). Medians over ``repeats`` alternating rounds of 3 steps each."""
    from raycil.data.protocol import phase_contexts
    from raycil.plugins.cim import bilevel
    from raycil.plugins.cim import plugin as cim_plugin
    from raycil.plugins.cim.pau import PAU

    cfg = row_config(plan, ROWS[1])
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs_first": 1, "epochs": 1})})
    learner, memory = make_learner(cfg), make_memory(cfg)
    ctx1, ctx2 = phase_contexts(cfg.protocol, cfg.num_classes)[:2]
    learner.train_phase(ctx1, memory.exemplars())
    memory.update(ctx1, learner.exemplar_candidates(ctx1, memory.needs_features()))
    learner.after_phase(ctx1, memory.exemplars())
    learner.method.before_phase(learner, ctx2)
    [plugin] = [p for p in learner.plugins if isinstance(p, cim_plugin.CimPlugin)]
    new = learner.data.train.of_classes(ctx2.new_classes)
    hooks = plugin.phase_hooks(learner, ctx2, new, memory.exemplars())
    source = learner.batches(new.images, new.labels, train=True)
    opt = torch.optim.SGD(learner.model.parameters(), lr=0.0)
    learner.method.train_mode(learner.model)

    def train_step() -> None:
        x, y = source.sample(cfg.train.batch_size)
        loss = learner.loss(x, y, ctx2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def phi_step() -> None:
        hooks.on_epoch_end(0, cfg.train.epochs, 1.0)

    def relu_phi_step() -> None:
        forward = PAU.forward
        PAU.forward = lambda self, x: torch.relu(x) * self.denominator[0]  # type: ignore[method-assign]
        try:
            phi_step()
        finally:
            PAU.forward = forward  # type: ignore[method-assign]

    steps = {"plain training step": train_step, "φ step": phi_step,
             "φ step, PAUs as ReLU x b1 (cost only)": relu_phi_step}
    out: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(repeats):
        for key, fn in steps.items():
            start = time.process_time()
            for _ in range(3):
                fn()
            out[key].append((time.process_time() - start) / 3)
    result = {k: statistics.median(v) for k, v in out.items()}
    # the φ step by stage (exclusive CPU time of the bilevel objective's parts over 3 steps)
    timer = PartTimer()
    stages = [(bilevel, "soft_masks", "  stage: φ branch forward, soft masks (new images)"),
              (cim_plugin.PhaseHooks, "cil_loss", "  stage: inner loss forward (Ẽ ∪ D̃(φ), with the teacher)"),
              (bilevel, "inner_step", "  stage: inner gradient, kept in the graph (Eq. 7)"),
              (bilevel, "call_with", "  stage: forward with θ⁺ (new images)"),
              (bilevel, "phi_cross_entropy", "  stage: φ branch forward, CE_φ (Ẽ ∪ D_i)"),
              (bilevel.PhiOptimizer, "step", "  stage: backward to φ + SGD step (Eq. 9)")]
    undo = []
    for owner, attr, label in stages:
        fn = owner.__dict__[attr]
        setattr(owner, attr, timer.wrap(fn, label, None))
        undo.append((owner, attr, fn))
    try:
        start = time.process_time()
        for _ in range(3):
            phi_step()
        total = time.process_time() - start
    finally:
        for owner, attr, fn in undo:
            setattr(owner, attr, fn)
    for label, t in timer.take().items():
        result[label] = t / total * result["φ step"]
    return result


def ratio_table(times: dict[str, list[list[dict[str, float]]]], key: str, unit: str) -> None:
    base_row, bop_row = ROWS
    medians = {row: median_parts(times[row]) for row in ROWS}
    pairs = list(zip(times[base_row], times[bop_row], strict=True))
    print("phase  " + "  ".join(f"{row:>12}" for row in ROWS) + "  BOP/Baseline  (ratio per run)")
    for p in range(len(medians[base_row])):
        base, bop = medians[base_row][p][key], medians[bop_row][p][key]
        per_run = [b[p][key] / a[p][key] for a, b in pairs]
        print(f"{p + 1:>5}  {base:>11.2f}{unit}  {bop:>11.2f}{unit}  {bop / base:>12.2f}  "
              f"({', '.join(f'{r:.2f}' for r in per_run)})")
    base, bop = (sum(m[key] for m in medians[row]) for row in ROWS)
    per_run = [sum(p[key] for p in b) / sum(p[key] for p in a) for a, b in pairs]
    print(f"total  {base:>11.2f}{unit}  {bop:>11.2f}{unit}  {bop / base:>12.2f}  "
          f"({', '.join(f'{r:.2f}' for r in per_run)})")


def parts_table(times: dict[str, list[list[dict[str, float]]]]) -> None:
    base_row, bop_row = ROWS
    medians = {row: median_parts(times[row]) for row in ROWS}
    pairs = list(zip(times[base_row], times[bop_row], strict=True))
    phases = range(len(medians[bop_row]))
    print(f"{'part':<34}" + "".join(f"{f'phase {p + 1}':>16}" for p in phases))
    for key, label in PART_NAMES.items():
        vals = [medians[bop_row][p].get(key, 0.0) for p in phases]
        if not any(vals):
            continue
        rel = [statistics.median(b[p].get(key, 0.0) / a[p]["cpu"] for a, b in pairs) for p in phases]
        print(f"{label:<34}" + "".join(f"{v:>8.2f}s {r:>5.2f}x" for v, r in zip(vals, rel, strict=True)))
    for key, label in (("train", "Baseline: plain training"), ("rest", "Baseline: rest")):
        vals = [medians[base_row][p].get(key, 0.0) for p in phases]
        print(f"{label:<34}" + "".join(f"{v:>8.2f}s {'':>6}" for v in vals))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="local")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--parts", default="abc", help="the sections to run (letters of a, b, c)")
    parser.add_argument("--json", type=Path, help="write (a)'s raw per-run, per-phase times here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {k: parse_value(v) for k, v in (o.split("=", 1) for o in args.overrides)}
    overrides["train.progress"] = False
    overrides["device"] = "cpu"
    plan = plan_sweep(TABLE, args.profile, overrides)
    setting = f"{args.threads} thread(s), profile {args.profile} {' '.join(args.overrides)}".rstrip()
    if "a" in args.parts:
        timer = PartTimer()
        times: dict[str, list[list[dict[str, float]]]] = {row: [] for row in ROWS}
        with wrapped(timer) as found:
            for r in range(args.repeats):
                for row in ROWS:
                    times[row].append(timed_phases(row_config(plan, row), timer))
                    run = times[row][-1]
                    print(f"  repeat {r + 1}/{args.repeats} {row}: {sum(p['wall'] for p in run):.1f} s wall, "
                          f"{sum(p['cpu'] for p in run):.1f} s CPU", file=sys.stderr, flush=True)
        if args.json:
            args.json.write_text(json.dumps({"setting": setting, "times": times}, indent=1))
        print(f"(a) time per phase, median of {args.repeats} runs, {setting}")
        print("wall clock:")
        ratio_table(times, "wall", "s")
        print("CPU time of the process (less sensitive to other work on the machine):")
        ratio_table(times, "cpu", "s")
        print(f"\nBOP by part, CPU seconds per phase (median of {args.repeats}) and x the Baseline phase's "
              "CPU time in the same run; Baseline's parts for reference")
        parts_table(times)
        print("wrapped: " + ", ".join(found))
    if "b" in args.parts:
        print(f"(b) CAM boxes of 224x224 images (ResNet-18, batch 32) per second, median of {args.repeats}, "
              f"{args.threads} thread(s): {cam_throughput(args.repeats):.1f}")
    if "c" in args.parts:
        cost = phi_step_cost(plan, args.repeats)
        plain = cost["plain training step"]
        print(f"(c) one step, CPU seconds, median of {args.repeats} rounds of 3, {setting}")
        for key, value in cost.items():
            print(f"  {key:<58} {value:>7.3f}s  {value / plain:>5.2f}x the plain step")


if __name__ == "__main__":
    main()
