"""CAM-based exemplar compression (CIM paper §4.1, Eq. 2-4; supplementary §1), in NumPy and
OpenCV: boxes from maps, compression, costs. The memory's codec uses it without torch; the
differentiable parts (CAM maps, soft compression) are :mod:`raycil.plugins.cim.differentiable`.

A box is ``(y0, x0, y1, x1)``, end-exclusive, in pixels of the image it belongs to; ``None`` means
no box (the whole image is downsampled, Table 3 row 3 "Full Comp."). ``eta`` is the downsampling
ratio in area (Eq. 4), so each side is divided by ``sqrt(eta)``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

Box = tuple[int, int, int, int]


def mask_box(cam: np.ndarray, tau: float) -> Box | None:
    """Eq. 2: the tight box around the 1s of ``M_tau = cam > tau``; ``None`` if there are none."""
    mask = np.asarray(cam) > tau
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def scale_box(box: Box | None, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> Box | None:
    """Map a box between image sizes (e.g. a 224x224 CAM to the stored image), rounding outwards so
    the scaled box covers the same region; at least one pixel per side."""
    if box is None:
        return None
    (fh, fw), (th, tw) = from_hw, to_hw
    y0, x0 = min(box[0] * th // fh, th - 1), min(box[1] * tw // fw, tw - 1)
    y1, x1 = min(-(-box[2] * th // fh), th), min(-(-box[3] * tw // fw), tw)
    return y0, x0, max(y1, y0 + 1), max(x1, x0 + 1)


def center_box(h: int, w: int) -> Box:
    """Table 3 row 5 ("Center Acti."): the centred box of half the height and half the width."""
    hb, wb = max(1, h // 2), max(1, w // 2)
    y0, x0 = (h - hb) // 2, (w - wb) // 2
    return y0, x0, y0 + hb, x0 + wb


def random_box(h: int, w: int, rng: np.random.Generator) -> Box:
    """Table 3 row 4 ("Random Acti."): side lengths uniform in [h/4, 3h/4] x [w/4, 3w/4], uniformly
    random position inside the image."""
    def side(n: int) -> int:
        lo = max(1, math.ceil(n / 4))
        return int(rng.integers(lo, max(lo, 3 * n // 4), endpoint=True))

    hb, wb = side(h), side(w)
    y0, x0 = int(rng.integers(0, h - hb, endpoint=True)), int(rng.integers(0, w - wb, endpoint=True))
    return y0, x0, y0 + hb, x0 + wb


def low_res_shape(h: int, w: int, eta: float) -> tuple[int, int]:
    """Eq. 4's ``x_eta`` size: each side divided by ``sqrt(eta)``, rounded down (so the low-res image
    never holds more than ``1/eta`` of the pixels), at least 1."""
    if eta < 1:
        raise ValueError(f"downsampling ratio eta must be >= 1, got {eta}")
    s = math.sqrt(eta)
    return max(1, math.floor(h / s + 1e-9)), max(1, math.floor(w / s + 1e-9))


def downsample(image: np.ndarray, eta: float) -> np.ndarray:
    """Supplementary §1: nearest-neighbour downsampling by ``eta`` in area (cv2.INTER_NEAREST)."""
    lh, lw = low_res_shape(image.shape[0], image.shape[1], eta)
    low = cv2.resize(image, (lw, lh), interpolation=cv2.INTER_NEAREST)
    return low.reshape(lh, lw, *image.shape[2:])


def upsample(low: np.ndarray, h: int, w: int) -> np.ndarray:
    """Nearest-neighbour upsampling of a low-res image back to ``h x w`` (cv2.INTER_NEAREST)."""
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_NEAREST).reshape(h, w, *low.shape[2:])


def resample(image: np.ndarray, eta: float) -> np.ndarray:
    """Eq. 3's ``x_eta``: the image downsampled by ``eta`` and upsampled back to its size."""
    return upsample(downsample(image, eta), image.shape[0], image.shape[1])


def compress(image: np.ndarray, box: Box | None, eta: float, eta_inner: float = 1.0) -> np.ndarray:
    """Eq. 3: ``x~ = M_B * x + (1 - M_B) * x_eta``. With ``eta_inner > 1`` the box is resampled with
    ``eta'`` (Table 3 row 11, "Fg Compressed"); with ``eta_inner == 1`` its pixels are untouched."""
    out = resample(image, eta)
    if box is not None:
        y0, x0, y1, x1 = box
        out[y0:y1, x0:x1] = resample(image[y0:y1, x0:x1], eta_inner)
    return out


def coverage(box: Box | None, h: int, w: int) -> float:
    """``H_B W_B / (H W)`` of Eq. 4; 0 for no box."""
    if box is None:
        return 0.0
    return (box[2] - box[0]) * (box[3] - box[1]) / (h * w)


def cost(box: Box | None, h: int, w: int, eta: float, eta_inner: float = 1.0) -> float:
    """Eq. 4 in memory units: ``H_B W_B / (H W) / eta' + (1 / eta) (1 - H_B W_B / (H W))``."""
    a = coverage(box, h, w)
    return a / eta_inner + (1.0 - a) / eta


def box_iou(a: Box | None, b: Box | None) -> float:
    """Intersection over union of two boxes; 0 if either is ``None``."""
    if a is None or b is None:
        return 0.0
    ih = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
