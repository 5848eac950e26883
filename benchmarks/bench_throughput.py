"""Training throughput of one phase through raycil vs a bare PyTorch loop (same model, same data).

    python benchmarks/bench_throughput.py [--repeats 5] [--epochs 2] [--threads N]

Both sides train the same architecture from the same initial weights on the same uint8 images
with the same augmentation (pad-crop-flip), batch size, SGD settings and cosine schedule. The
raycil side is ``Learner.train_phase`` (method hooks, batch source, schedule); the bare side is the
textbook loop. Reported: images/s of each (median over repeats, run alternately) and the ratio
raycil / bare, of the medians and as the median of the paired runs (goal >= 0.95).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from raycil.config import build_config
from raycil.data.protocol import phase_contexts
from raycil.data.registry import load_dataset
from raycil.learner.transforms import IMAGENET_MEAN, IMAGENET_STD
from raycil.plugins.assembly import make_learner

CONFIG = {
    "device": "cpu",
    "dataset": {"name": "synthetic", "num_classes": 20, "image_size": 32, "train_per_class": 100,
                "test_per_class": 5},
    "protocol": {"kind": "lfs", "num_phases": 5},
    "model": {"backbone": "resnet20"},
    "train": {"batch_size": 64, "progress": False},
}


def bare_loop(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, epochs: int,
              batch_size: int, lr: float, seed: int) -> float:
    """The textbook loop; returns images/s."""
    g = torch.Generator().manual_seed(seed)
    x_all = torch.from_numpy(images).permute(0, 3, 1, 2)
    y_all = torch.from_numpy(labels)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    model.train()
    seen, start = 0, time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(y_all), generator=g)
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            x = F.pad(x_all[idx].float(), (4, 4, 4, 4))
            off = torch.randint(0, 9, (len(idx), 2), generator=g).tolist()
            x = torch.stack([x[j, :, a:a + 32, b:b + 32] for j, (a, b) in enumerate(off)])
            flip = (torch.rand(len(idx), generator=g) < 0.5)[:, None, None, None]
            x = (torch.where(flip, x.flip(3), x) - mean) / std
            loss = F.cross_entropy(model(x)["logits"], y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(idx)
        sched.step()
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = build_config({**CONFIG, "train": {**CONFIG["train"], "epochs_first": args.epochs}})
    ctx = phase_contexts(cfg.protocol, cfg.num_classes)[0]
    data = load_dataset(cfg.dataset)
    first = data.train.of_classes(ctx.new_classes)
    empty = (np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, np.int64))
    template = make_learner(cfg)
    template.model.expand(ctx.total)
    init = copy.deepcopy(template.model)
    raycil_rates, bare_rates = [], []
    for r in range(args.repeats):
        learner = make_learner(cfg)
        learner.train_phase(ctx, empty)
        raycil_rates.append(learner.last_fit["images_per_s"])
        bare_rates.append(bare_loop(copy.deepcopy(init), first.images, first.labels, args.epochs,
                                    cfg.train.batch_size, cfg.train.lr_first, r))
    rc, bare = statistics.median(raycil_rates), statistics.median(bare_rates)
    paired = statistics.median(r / b for r, b in zip(raycil_rates, bare_rates, strict=True))
    print(f"threads {args.threads}, {len(first)} images x {args.epochs} epochs, {args.repeats} repeats")
    print(f"raycil   {rc:8.1f} images/s  (runs: {', '.join(f'{v:.0f}' for v in raycil_rates)})")
    print(f"bare     {bare:8.1f} images/s  (runs: {', '.join(f'{v:.0f}' for v in bare_rates)})")
    print(f"ratio raycil/bare = {rc / bare:.3f} (of medians), {paired:.3f} (median of paired runs)"
          "  (goal >= 0.95)")


if __name__ == "__main__":
    main()
