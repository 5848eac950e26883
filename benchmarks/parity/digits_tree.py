"""scikit-learn's handwritten digits (1,797 images of 10 classes, 8 x 8 px, 17 grey levels; UCI
"Optical Recognition of Handwritten Digits", shipped inside scikit-learn, no download) written as
an image-folder tree of 32 x 32 RGB PNGs: ``OUT/train/<digit>/<i>.png`` and ``OUT/test/<digit>/<i>.png``.
The one real dataset both raycil and PyCIL read from the same files (docs/parity.md).

The test split is stratified (``--test-fraction``, seeded by ``--split-seed``); each image is scaled
to 0-255, resized with OpenCV's bilinear filter and repeated over three channels.

    pip install scikit-learn
    python benchmarks/parity/digits_tree.py data/digits32
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """The digits as uint8 (N, 8, 8) at 0-255, and their labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("digits_tree: scikit-learn is not installed (pip install scikit-learn)")
    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of the test images: round(test_fraction x n) of each class, drawn at random."""
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        is_test[rng.choice(members, size=round(test_fraction * len(members)), replace=False)] = True
    return is_test


def write_tree(out: Path, size: int, test_fraction: float, seed: int) -> dict[str, int]:
    """Write the tree; returns the image count per split."""
    if out.exists() and any(out.iterdir()):
        sys.exit(f"digits_tree: '{out}' exists and is not empty (choose a new folder)")
    images, labels = digits_images()
    is_test = stratified_split(labels, test_fraction, seed)
    counts = {"train": 0, "test": 0}
    for i, (image, label, test) in enumerate(zip(images, labels, is_test, strict=True)):
        split = "test" if test else "train"
        big = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
        path = out / split / str(label) / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)):
            sys.exit(f"digits_tree: cannot write '{path}'")
        counts[split] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the new tree's folder")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    parser.add_argument("--test-fraction", type=float, default=0.3, help="share of each class in test/ (0.3)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the test split (0)")
    args = parser.parse_args(argv)
    counts = write_tree(args.out, args.size, args.test_fraction, args.split_seed)
    print(f"{args.out}: {counts['train']} training and {counts['test']} test images of 10 classes, "
          f"{args.size} x {args.size} RGB")


if __name__ == "__main__":
    main()
