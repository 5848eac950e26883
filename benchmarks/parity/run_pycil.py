"""PyCIL's own code (G-U-N/PyCIL, a checkout given by ``--pycil``; commit 87cc411 for docs/parity.md)
run on the digits tree at the recipe of ablations/pycil_parity.yaml, for the other side of the parity
table. Nothing of PyCIL is copied or edited: this driver imports the checkout and sets, from outside,
what its command line cannot:

- the dataset: an ``iData`` reading ``TREE/train`` and ``TREE/test`` with torchvision's ImageFolder
  (PyCIL's iImageNet100 does the same), with PyCIL's CIFAR transforms (pad-4 crop, flip, brightness
  jitter 63/255) and the tree's own channel mean and std;
- the epochs: each ``models/<method>.py``'s ``init_epoch`` / ``epochs`` set to ``--epochs`` and its
  milestones scaled to them (round(m x epochs / original), the rounding raycil applies to the
  fractions in the sweep file); ``num_workers`` 0;
- the training seed: PyCIL seeds torch with 1 whatever its ``seed`` (which orders the classes); here
  ``--seed`` seeds torch, and the class order stays seed 1993's;
- the CPU: PyCIL's ``_set_device`` maps ``-1`` to cuda:-1, so the device is set to the CPU;
- top-5 accuracy over fewer than 5 seen classes (PyCIL's ``topk`` is 5): k is capped at the class count;
- ``--phases k``: the run stops after its first k phases (``DataManager.nb_tasks`` capped).

    python benchmarks/parity/run_pycil.py --pycil ../PyCIL --tree data/digits32 --method icarl \\
        --seed 0 --out runs/pycil_parity

writes ``OUT/<method>_seed<k>.json``: the CNN (and NME) top-1 accuracy after each phase, their mean
(average incremental accuracy) and the run's seconds.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

METHODS = ("finetune", "icarl", "wa", "der")
CURVE = re.compile(r"^(CNN|NME) top1 curve: \[(.*)\]$")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")  # items print as 50.47 or np.float64(50.47)


class CurveRecorder(logging.Handler):
    """Keeps the last top-1 curve PyCIL's trainer logs for CNN and NME."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.curves: dict[str, list[float]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except TypeError:  # a PyCIL line that passes arguments without placeholders
            return
        match = CURVE.match(message)
        if match:
            self.curves[match.group(1).lower()] = [float(v) for v in NUMBER.findall(match.group(2))]


def tree_stats(tree: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the training images (PyCIL normalises CIFAR with its own)."""
    import numpy as np
    from PIL import Image

    pixels = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float64) / 255.0
                       for p in sorted((tree / "train").glob("*/*.png"))])
    return tuple(pixels.mean(axis=(0, 1, 2)).round(4)), tuple(pixels.std(axis=(0, 1, 2)).round(4))


def tree_data_class(tree: Path):
    """An ``iData`` for the tree, on PyCIL's base class, with its CIFAR transforms."""
    from torchvision import datasets, transforms
    from utils.data import iData
    from utils.toolkit import split_images_labels

    mean, std = tree_stats(tree)

    class TreeData(iData):
        use_path = True
        train_trsf = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(p=0.5),
                      transforms.ColorJitter(brightness=63 / 255)]
        test_trsf: list = []
        common_trsf = [transforms.ToTensor(), transforms.Normalize(mean=mean, std=std)]

        def download_data(self) -> None:
            train = datasets.ImageFolder(str(tree / "train"))
            test = datasets.ImageFolder(str(tree / "test"))
            self.train_data, self.train_targets = split_images_labels(train.imgs)
            self.test_data, self.test_targets = split_images_labels(test.imgs)
            self.class_order = list(range(len(train.classes)))

    return TreeData


def set_recipe(method: str, epochs: int) -> dict[str, object]:
    """The method module's epoch constants set to ``epochs`` with scaled milestones; returns them."""
    module = importlib.import_module(f"models.{method}")
    for count, marks in (("init_epoch", "init_milestones"), ("epochs", "milestones")):
        original = getattr(module, count)
        setattr(module, marks, [round(m * epochs / original) for m in getattr(module, marks)])
        setattr(module, count, epochs)
    module.num_workers = 0
    return {name: getattr(module, name) for name in ("init_epoch", "init_milestones", "epochs", "milestones")}


def patch_pycil(tree: Path, seed: int, phases: int | None) -> None:
    """Dataset, CPU device, training seed, top-k and the phase count, set on the imported modules."""
    import torch
    import trainer
    from models import base
    from utils import data_manager

    data_class = tree_data_class(tree)
    data_manager._get_idata = lambda name: data_class()
    if phases is not None:
        all_phases = data_manager.DataManager.nb_tasks
        data_manager.DataManager.nb_tasks = property(lambda self: min(phases, all_phases.fget(self)))

    def set_random() -> None:
        torch.manual_seed(seed)

    def set_device(args: dict) -> None:
        args["device"] = [torch.device("cpu")]

    trainer._set_random = set_random
    trainer._set_device = set_device
    eval_task = base.BaseLearner.eval_task

    def eval_capped(self, *args, **kwargs):
        self.topk = min(5, self._total_classes)
        results = eval_task(self, *args, **kwargs)
        for accuracy in results:  # the trainer reads "top5"
            if accuracy is not None:
                accuracy.setdefault("top5", accuracy[f"top{self.topk}"])
        return results

    base.BaseLearner.eval_task = eval_capped


def run(pycil: Path, tree: Path, method: str, seed: int, epochs: int, out: Path,
        phases: int | None = None) -> dict[str, object]:
    sys.path.insert(0, str(pycil))
    os.chdir(out)  # PyCIL writes logs/ under the working directory
    patch_pycil(tree, seed, phases)
    recipe = set_recipe(method, epochs)
    import trainer

    recorder = CurveRecorder()
    logging.getLogger().addHandler(recorder)
    logging.getLogger().setLevel(logging.INFO)
    args = {"prefix": "parity", "dataset": "digits32", "memory_size": 200, "memory_per_class": 20,
            "fixed_memory": False, "shuffle": True, "init_cls": 2, "increment": 2, "model_name": method,
            "convnet_type": "resnet32", "device": ["-1"], "seed": [1993]}
    start = time.perf_counter()
    trainer.train(args)
    seconds = time.perf_counter() - start
    result: dict[str, object] = {"method": method, "seed": seed, "class_order_seed": 1993, "recipe": recipe,
                                 "phases": phases, "seconds": round(seconds, 1)}
    for head, curve in recorder.curves.items():
        result[f"{head}_curve"] = curve
        result[f"{head}_avg_inc_acc"] = round(sum(curve) / len(curve), 3)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pycil", type=Path, required=True, help="a checkout of G-U-N/PyCIL")
    parser.add_argument("--tree", type=Path, required=True, help="the digits tree (digits_tree.py)")
    parser.add_argument("--method", choices=METHODS, required=True)
    parser.add_argument("--seed", type=int, default=0, help="torch seed of the training (0)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of every phase (15)")
    parser.add_argument("--phases", type=int, default=None, help="stop after the first k phases (all)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    parser.add_argument("--out", type=Path, default=Path("runs/pycil_parity"))
    args = parser.parse_args(argv)
    pycil, tree, out = args.pycil.resolve(), args.tree.resolve(), args.out.resolve()
    needed = ((pycil / "trainer.py", "--pycil"), (tree / "train", "--tree"), (tree / "test", "--tree"))
    for path, what in needed:
        if not path.exists():
            parser.exit(2, f"run_pycil: {what}: '{path}' does not exist\n")
    out.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(args.threads)
    result = run(pycil, tree, args.method, args.seed, args.epochs, out, args.phases)
    stem = f"{args.method}_seed{args.seed}" + (f"_phases{args.phases}" if args.phases else "")
    path = out / f"{stem}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{path}: CNN {result.get('cnn_avg_inc_acc')}, NME {result.get('nme_avg_inc_acc')}, "
          f"{result['seconds']} s")


if __name__ == "__main__":
    main()
