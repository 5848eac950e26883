"""Small random image-folder trees the tests write (the built-in data as a tree: raycil.data.export_tree)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_random_tree(root: Path, classes: list[str], per_class: int, shape: tuple[int, int],
                      suffix: str = ".png", test: str = "val", seed: int = 0) -> Path:
    """Random-noise images of ``shape`` (h, w) in ``classes`` folders of train/ and ``test``/."""
    rng = np.random.default_rng(seed)
    for split in ("train", test):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                cv2.imwrite(str(folder / f"{i}{suffix}"), rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    return root
