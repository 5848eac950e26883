"""MRDC's quality rule (Wang et al., ICLR 2022, §4.2) against the size of the sets it measures:
R_q at each JPEG quality for sets of m exemplars per class, in herding order and at random, after
phase 1 of configs/cim.yaml (local profile, seed 0; ResNet-20's 64-d features). With sets near the
feature dimension every R_q is near 1 and the rule takes the lowest quality; at the authors'
40 / 512 of the dimension the low qualities fall outside the tolerance.

    python benchmarks/mrdc_rule_sets.py [--sizes 3 5 10 20 40 63] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "cim.yaml"
QUALITIES = (10, 30, 50, 70, 90)


def main() -> None:
    from raycil.config import load_config
    from raycil.data.imageset import decoded, stack_images
    from raycil.data.protocol import phase_contexts
    from raycil.memory.selection import herding_order
    from raycil.plugins.assembly import make_learner, make_memory
    from raycil.plugins.mrdc.plugin import roundtrip_all
    from raycil.plugins.mrdc.quality import volume_ratio

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 10, 20, 40, 63])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(CONFIG, "local", {"cim.boxes": "none", "cim.artifact_aug": False,
                                        "mrdc.quality": "auto", "train.progress": False})
    learner, memory = make_learner(cfg), make_memory(cfg)
    ctx = phase_contexts(cfg.protocol, cfg.num_classes)[0]
    learner.train_phase(ctx, memory.exemplars())
    rng = np.random.default_rng(0)
    classes = []
    for cls in ctx.new_classes:
        images = list(decoded(learner.data.train.of_classes([cls]).images))
        feats = learner.embed(stack_images(images)).cpu().numpy()
        orders = {"herding": list(itertools.islice(herding_order(feats), max(args.sizes))),
                  "random": list(rng.permutation(len(images))[: max(args.sizes)])}
        classes.append((images, feats, orders))
    dim = classes[0][1].shape[1]
    print(f"phase 1 of {CONFIG.name}: {len(classes)} classes, {dim}-d features; R_q per quality")
    print(f"  {'order':>8} {'m':>3} {'m/d':>6} " + " ".join(f"{'q' + str(q):>7}" for q in QUALITIES))
    for order, m in itertools.product(("herding", "random"), args.sizes):
        ratios = []
        for q in QUALITIES:
            originals = [feats[orders[order][:m]] for _, feats, orders in classes]
            compressed = [learner.embed(roundtrip_all([images[i] for i in orders[order][:m]], q))
                          .cpu().numpy() for images, _, orders in classes]
            ratios.append(volume_ratio(originals, compressed))
        print(f"  {order:>8} {m:>3} {m / dim:>6.3f} " + " ".join(f"{r:>7.4f}" for r in ratios))


if __name__ == "__main__":
    main()
