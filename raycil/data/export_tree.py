"""``python -m raycil.data.export_tree OUT [--num-classes K] ...``: the built-in generated data
written as an image-folder tree, ``OUT/train/<class>/<i>.png``, ``OUT/val/<class>/<i>.png`` (the
validation images), ``OUT/test/<class>/<i>.png`` and ``OUT/boxes.csv`` (the objects' true boxes),
to try ``dataset.name: imagefolder`` on.

Class folders ``c00``, ``c01``, ... and file names follow the generated order, so a run of the
tree at the data's side gives the metrics of the same run on ``dataset.name: synthetic``
(data seed 0, the default ``val_fraction``), image for image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

from raycil.data import synthetic
from raycil.data.boxes_file import COLUMNS
from raycil.data.validation import validation_per_class


def export_tree(out: Path, num_classes: int, train_per_class: int, test_per_class: int, size: int = 32,
                suffix: str = ".png", data_seed: int = 0, val_fraction: float = 0.1) -> Path:
    """Write the tree and its boxes file; returns ``out``."""
    rows = [",".join(COLUMNS)]
    val_per_class = validation_per_class(train_per_class, val_fraction)  # as the generated data draws them
    for split, n in (("train", train_per_class), ("val", val_per_class), ("test", test_per_class)):
        images, labels, boxes = synthetic.generate(num_classes, n, size, data_seed, split)
        for i, (image, label, box) in enumerate(zip(images, labels, boxes, strict=True)):
            rel = f"{split}/c{label:02d}/{i:05d}{suffix}"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(out / rel), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                raise OSError(f"cannot write '{out / rel}'")
            rows.append(f"{rel},{','.join(str(int(v)) for v in box)}")
    (out / "boxes.csv").write_text("\n".join(rows) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raycil.data.export_tree",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to create (must not exist or be empty)")
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--train-per-class", type=int, default=100)
    parser.add_argument("--test-per-class", type=int, default=30)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (16..512)")
    parser.add_argument("--format", choices=["png", "jpg"], default="png")
    args = parser.parse_args(argv)
    out = Path(args.out)
    problems = [(args.num_classes < 2 or args.num_classes > synthetic.MAX_CLASSES,
                 f"--num-classes: between 2 and {synthetic.MAX_CLASSES}"),
                (min(args.train_per_class, args.test_per_class) < 1,
                 "--train-per-class, --test-per-class: >= 1"),
                (not 16 <= args.size <= 512, "--size: between 16 and 512"),
                (out.exists() and (not out.is_dir() or any(out.iterdir())),
                 f"OUT: '{out}' exists and is not an empty folder")]
    for bad, message in problems:
        if bad:
            print(f"raycil.data.export_tree: error: {message}", file=sys.stderr)
            return 2
    export_tree(out, args.num_classes, args.train_per_class, args.test_per_class, args.size,
                f".{args.format}")
    val = validation_per_class(args.train_per_class, 0.1)
    print(f"wrote {args.num_classes} classes x ({args.train_per_class} train + {val} val + "
          f"{args.test_per_class} test) images and boxes.csv under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
