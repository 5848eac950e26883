"""In-memory or on-disk images with remapped labels: what datasets, phases and memory pass around."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from raycil.data.folder import DataError


class ImageFiles(Sequence):
    """Lazily decoded RGB uint8 images from a list of file paths (ImageFolder, Food-101)."""

    def __init__(self, paths: Sequence[str]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, (slice, np.ndarray, list)):
            idx = range(len(self))[i] if isinstance(i, slice) else i
            return ImageFiles([self.paths[j] for j in idx])
        image = cv2.imread(self.paths[i], cv2.IMREAD_COLOR)
        if image is None:
            if not os.path.exists(self.paths[i]):
                raise FileNotFoundError(f"image '{self.paths[i]}' does not exist")
            raise DataError(f"cannot decode image '{self.paths[i]}' (unreadable or truncated)")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass
class ImageSet:
    """Images (an NxHxWx3 uint8 array or :class:`ImageFiles`), labels in class-order positions,
    and, for the generated data, the true object boxes (x0, y0, x1, y1)."""

    images: np.ndarray | ImageFiles
    labels: np.ndarray
    boxes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> ImageSet:
        indices = np.asarray(indices, dtype=np.int64)
        return ImageSet(
            self.images[indices],
            self.labels[indices],
            None if self.boxes is None else self.boxes[indices],
        )

    def of_classes(self, classes: Sequence[int]) -> ImageSet:
        return self.subset(np.flatnonzero(np.isin(self.labels, np.asarray(list(classes)))))


class ChainedImages(Sequence):
    """Two image sequences read as one (file images followed by decoded exemplars)."""

    def __init__(self, first: Sequence, second: Sequence):
        self.first, self.second = first, second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def __getitem__(self, i):  # type: ignore[override]
        i = int(i)
        return self.first[i] if i < len(self.first) else self.second[i - len(self.first)]


def decoded(images: np.ndarray | Sequence) -> np.ndarray | list[np.ndarray]:
    """Images as arrays: an array as it is, file images decoded (e.g. for compression)."""
    return images if isinstance(images, np.ndarray) else [images[i] for i in range(len(images))]


def stack_images(images: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """One array when every image has the same shape (the fast batch path), else the list."""
    if images and all(im.shape == images[0].shape for im in images):
        return np.stack(images)
    return images


def concat_images(a: np.ndarray | Sequence, b: np.ndarray | Sequence) -> np.ndarray | Sequence:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape[1:] == b.shape[1:]:
        return np.concatenate([a, b])
    return ChainedImages(a, b)
