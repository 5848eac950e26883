"""Where each image's box comes from (CIM Table 3 rows 3-6 and 9): CAM maps of the CIL model
(Eq. 1) or of its learned-activation branch (the CIM model, §4.2), thresholded with τ into a
tight box (Eq. 2); or fixed boxes (none = whole image downsampled, random, centre quarter)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from raycil.plugins.cim.compression import Box, center_box, mask_box, random_box, scale_box
from raycil.plugins.cim.differentiable import cam_maps

if TYPE_CHECKING:
    from raycil.plugins.cim.branch import MaskBranch
    from raycil.plugins.seam import LearnerHost


def image_shapes(images: Any) -> list[tuple[int, int]]:
    """(H, W) of every image (one shape for an array, per file for decoded file images)."""
    if isinstance(images, np.ndarray):
        return [tuple(images.shape[1:3])] * len(images)  # type: ignore[list-item]
    return [tuple(images[i].shape[:2]) for i in range(len(images))]  # type: ignore[misc]


def activation_maps(host: LearnerHost, images: Any, labels: np.ndarray,
                    branches: Sequence[MaskBranch | None]) -> list[np.ndarray]:
    """CAM of every image for its true class (Eq. 1, min-max normalised, at the network's input
    size), one array per entry of ``branches``: ``None`` the CIL model, a branch the CIM model
    sharing its weights. One pass over the images: each batch is built once and run through every
    network in turn (eval mode, so an image's maps are bit for bit those of separate passes)."""
    model = host.model

    def cam(x: torch.Tensor, y: torch.Tensor, branch: MaskBranch | None) -> np.ndarray:
        with branch.active(model) if branch is not None else nullcontext():
            fmaps = model(x)["fmaps"]
        return cam_maps(fmaps, model.head.weight, y, tuple(x.shape[-2:])).float().cpu().numpy()

    def cams(x: torch.Tensor, y: torch.Tensor) -> list[np.ndarray]:
        return [cam(x, y, b) for b in branches]

    batches = host.infer(images, labels, cams, cam=True)
    if not batches:
        return [np.zeros((0, 1, 1), np.float32) for _ in branches]
    return [np.concatenate([maps[i] for maps in batches]) for i in range(len(branches))]


def class_activation_maps(host: LearnerHost, images: Any, labels: np.ndarray,
                          branch: MaskBranch | None = None) -> np.ndarray:
    """CAM of every image for its true class from the CIL model or, with ``branch``, from the
    CIM model sharing its weights (:func:`activation_maps` of one network)."""
    return activation_maps(host, images, labels, [branch])[0]


def boxes_from_maps(maps: np.ndarray, tau: float, shapes: Sequence[tuple[int, int]]) -> list[Box | None]:
    """Eq. 2 boxes at threshold τ, mapped from the CAM's size to each image's own size."""
    return [scale_box(mask_box(m, tau), m.shape, hw) for m, hw in zip(maps, shapes, strict=True)]


def fixed_boxes(kind: str, shapes: Sequence[tuple[int, int]], rng: np.random.Generator) -> list[Box | None]:
    """Boxes that ignore the image: full (none: whole image downsampled), centre quarter, random."""
    if kind == "full":
        return [None] * len(shapes)
    if kind == "center":
        return [center_box(h, w) for h, w in shapes]
    if kind == "random":
        return [random_box(h, w, rng) for h, w in shapes]
    raise ValueError(f"cim.boxes: '{kind}' is not a fixed box kind")
