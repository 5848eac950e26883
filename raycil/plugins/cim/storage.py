"""The CIM codec: compressed exemplars (CIM Eq. 3) stored in the memory, charged what they hold.

A :class:`CompressedExemplar` keeps the box and the image shape (seven 16-bit integers), the
pixels inside the box (full resolution, or ``eta'``-downsampled for Table 3 row 11) and the cells
of the ``eta``-downsampled image that some pixel outside the box reads. How it is counted:

- the low-resolution image is ⌊H/√η⌋ x ⌊W/√η⌋ cells (rounded down, so it never holds more than
  1/η of the pixels); a side not divisible by √η makes some cells one pixel row or column wider;
- a cell the box border cuts (read both inside and outside the box) is stored whole: pixels
  outside the box need its value; cells the box fully covers are not stored;
- it is charged its bytes over the original image's (``units``), so the memory holds exactly
  what it counts. That is Eq. 4's cost plus the cut cells and the metadata (14 bytes: 0.46% of a
  32x32 RGB image), up to the rounding of the low-resolution size. η and η′ are the codec's, one
  pair for the whole memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from raycil.memory.codec import units_of
from raycil.plugins.cim.compression import Box, coverage, downsample, low_res_shape, upsample

META_BYTES = 7 * 2  # the box (y0, x0, y1, x1) and the image shape (H, W, C) as 16-bit integers


def _outside_cells(shape_hw: tuple[int, int], box: Box | None, eta: float) -> np.ndarray:
    """Boolean [lh, lw]: the low-res cells that nearest-neighbour upsampling reads for at least one
    pixel outside the box (found with the same cv2 call that decodes, so decoding is exact)."""
    h, w = shape_hw
    lh, lw = low_res_shape(h, w, eta)
    index = upsample(np.arange(lh * lw, dtype=np.int32).reshape(lh, lw), h, w)
    outside = np.ones((h, w), bool)
    if box is not None:
        outside[box[0]:box[2], box[1]:box[3]] = False
    needed = np.zeros(lh * lw, bool)
    needed[index[outside]] = True
    return needed.reshape(lh, lw)


@dataclass
class CompressedExemplar:
    """An image compressed by Eq. 3, charged its bytes in memory units."""

    box: Box | None
    inner: np.ndarray  # pixels inside the box, at eta_inner resolution; empty without a box
    cells: np.ndarray  # flat uint8: the low-res cells read outside the box, row-major
    shape: tuple[int, ...]  # (H, W, C) of the original image
    eta: float
    eta_inner: float

    @classmethod
    def encode(cls, image: np.ndarray, box: Box | None, eta: float,
               eta_inner: float = 1.0) -> CompressedExemplar:
        h, w = image.shape[:2]
        low = downsample(image, eta)
        cells = np.ascontiguousarray(low[_outside_cells((h, w), box, eta)]).reshape(-1)
        if box is None:
            inner = np.empty(0, image.dtype)
        else:
            inner = np.ascontiguousarray(downsample(image[box[0]:box[2], box[1]:box[3]], eta_inner))
        return cls(box, inner, cells, tuple(image.shape), eta, eta_inner)

    def decode(self) -> np.ndarray:
        """Exactly ``compress(image, box, eta, eta_inner)``."""
        h, w = self.shape[:2]
        lh, lw = low_res_shape(h, w, self.eta)
        low = np.zeros((lh, lw, *self.shape[2:]), self.cells.dtype)
        low[_outside_cells((h, w), self.box, self.eta)] = self.cells.reshape(-1, *self.shape[2:])
        out = upsample(low, h, w)
        if self.box is not None:
            y0, x0, y1, x1 = self.box
            out[y0:y1, x0:x1] = upsample(self.inner, y1 - y0, x1 - x0)
        return out

    @property
    def coverage(self) -> float:
        """H_B W_B / (H W): the share of the image kept at full resolution."""
        return coverage(self.box, self.shape[0], self.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self.inner.nbytes + self.cells.nbytes + META_BYTES)

    @property
    def units(self) -> float:
        return units_of(self.nbytes, self.shape)


class CimCodec:
    """Stores each selected candidate compressed with its box (the candidates' codec argument)."""

    def __init__(self, eta: float, eta_inner: float = 1.0):
        self.eta, self.eta_inner = eta, eta_inner

    def encode(self, image: np.ndarray, box: Box | None) -> CompressedExemplar:
        return CompressedExemplar.encode(image, box, self.eta, self.eta_inner)

    def stats(self, stored: Sequence[CompressedExemplar]) -> dict[str, float]:
        """Mean box coverage H_B W_B / (H W) and mean units per stored exemplar (the compression
        rate of CIM Figure S2: 1 = uncompressed)."""
        if not stored:
            return {}
        return {"box_coverage": float(np.mean([e.coverage for e in stored])),
                "units_per_exemplar": float(np.mean([e.units for e in stored]))}
