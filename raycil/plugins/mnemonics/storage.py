"""What the memory keeps of a Mnemonics exemplar (Liu et al., CVPR 2020, §4.3: "image-size
parameters"): the learned image in pixel scale (0..255) as ``uint8`` (rounded and clipped: an
image again, one memory unit), ``float16`` (2 units) or ``float32`` (4 units: the tensor as
learned). The memory charges the bytes of the array it holds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from raycil.memory.codec import Exemplar, PlainExemplar


def to_storage(pixels: np.ndarray, storage: str) -> np.ndarray:
    """``pixels`` (float, 0..255) as the memory stores them."""
    if storage == "uint8":
        return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return np.asarray(pixels, dtype=np.dtype(storage))


class TensorCodec:
    """Stores each exemplar (a selected image, or the learned one that replaces it) as an array of
    the configured dtype; its units are its bytes over the original image's."""

    def __init__(self, storage: str):
        self.storage = storage

    def encode(self, image: np.ndarray, arg: Any) -> PlainExemplar:
        return PlainExemplar(np.ascontiguousarray(to_storage(image, self.storage)))

    def stats(self, stored: Sequence[Exemplar]) -> dict[str, float]:
        return {}
