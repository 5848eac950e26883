"""The validation split (docs/concepts.md "validation vs test"): per class, training images held
out that no phase trains on and no memory selects, the same for every trial of a dataset.

Where the data has no validation images of its own, ``val_fraction`` of each class's training
images are held out, chosen by NumPy's generator seeded from ``(data_seed, original class id)``:
a trial's seed, the class order and the other classes do not move it."""

from __future__ import annotations

import numpy as np

from raycil.data.imageset import ImageSet

_STREAM = 5011  # keeps the split's random stream apart from the generated data's draws


def held_out_count(n: int, fraction: float) -> int:
    """Images of a class of ``n`` held out: ``round(fraction * n)``, at least one when
    ``fraction > 0``, and never the class's last training image."""
    if fraction <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, round(fraction * n)))


def validation_per_class(train_per_class: int, fraction: float) -> int:
    """Validation images the generated data draws per class, apart from its training images:
    ``round(fraction * train_per_class)``, at least one (none for ``fraction: 0``)."""
    return max(1, round(fraction * train_per_class)) if fraction > 0 else 0


def validation_indices(labels: np.ndarray, fraction: float, data_seed: int) -> np.ndarray:
    """Sorted indices of the held-out images (``labels``: the original class ids)."""
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = held_out_count(len(members), fraction)
        if k:
            rng = np.random.default_rng([data_seed, _STREAM, int(c)])
            picked.append(members[rng.permutation(len(members))[:k]])
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, np.int64)


def split_indices(labels: np.ndarray, fraction: float, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices kept for training, held-out indices), each in their original order."""
    val = validation_indices(labels, fraction, data_seed)
    return np.setdiff1d(np.arange(len(labels)), val, assume_unique=True), val


def hold_out(train: ImageSet, fraction: float, data_seed: int) -> tuple[ImageSet, ImageSet]:
    """(training images left, validation images) of ``train``, in their original order."""
    keep, val = split_indices(train.labels, fraction, data_seed)
    return train.subset(keep), train.subset(val)
