"""The generated dataset kept on disk once per machine, so a trial's actors read it, not draw it.

Drawing the built-in data costs about 3 ms of CPU per image (2,600 images of a 20-class
dataset: ~6 s), and a trial's LearnerActor and MemoryActor each need it: on a machine running
several trials at once, that is CPU taken from the trials' training. The first process to need
a split draws it (:func:`raycil.data.synthetic.generate`) and saves it as
``<cache>/synthetic-<key>.npy`` (images, memory-mapped copy-on-write when read, so the actors
of a node share its pages) and ``.boxes.npy``; later processes load it. The key hashes the
drawing's arguments, the source of :mod:`raycil.data.synthetic` and the OpenCV and NumPy
versions (their antialiasing and random streams draw the pixels), so a cache is never read for
other pixels: an edited drawing gets a new cache by itself.
Files are written under a temporary name and renamed: trials that draw the same split at once,
or a killed draw, leave no torn file. Where the cache cannot be written, the split is drawn in
memory as before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from raycil.data import synthetic
from raycil.data.decoded import cache_dir, published_pair


def cache_key(num_classes: int, per_class: int, size: int, data_seed: int, split: str,
              class_offset: int = 0) -> str:
    digest = hashlib.sha256(Path(synthetic.__file__).read_bytes())
    digest.update(f"cv2={cv2.__version__} numpy={np.__version__} classes={num_classes} per_class={per_class} "
                  f"size={size} seed={data_seed} split={split} offset={class_offset}".encode())
    return digest.hexdigest()[:24]


def generated_split(num_classes: int, per_class: int, size: int, data_seed: int, split: str,
                    cache: str | None = None,
                    class_offset: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`raycil.data.synthetic.generate`'s (images, labels, boxes), the same arrays, read
    from the cache (``cache``, else ``$RAYCIL_CACHE``, else ``~/.cache/raycil/decoded``) when
    an earlier process drew them."""
    labels = np.repeat(np.arange(num_classes, dtype=np.int64), per_class)
    folder = cache_dir(cache)
    key = cache_key(num_classes, per_class, size, data_seed, split, class_offset)
    target = folder / f"synthetic-{key}.npy"
    try:
        images = np.load(target, mmap_mode="c")
        boxes = np.load(target.with_suffix(".boxes.npy"))
        if images.shape == (len(labels), size, size, 3) and boxes.shape == (len(labels), 4):
            return images, labels, boxes
    except (OSError, ValueError):  # not drawn yet (or unreadable): draw it
        pass
    images, labels, boxes = synthetic.generate(num_classes, per_class, size, data_seed, split, class_offset)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with published_pair(target, ".boxes.npy") as (tmp_images, tmp_boxes):
            np.save(tmp_boxes, boxes)
            np.save(tmp_images, images)
    except OSError:  # a read-only or full disk: the run goes on with the arrays in memory
        pass
    return images, labels, boxes
