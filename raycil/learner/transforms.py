"""Train / test transforms: small-image (pad-crop-flip) and CIM Table S2 for 224-px data."""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from raycil.data.config import LARGE_INPUT

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _normalize() -> list:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]


def train_transform(image_size: int | None) -> v2.Compose:
    """``image_size`` for fixed-size small images; ``None`` for file data (Table S2 training)."""
    if image_size is None:
        return v2.Compose([v2.RandomResizedCrop(LARGE_INPUT, antialias=True), v2.RandomHorizontalFlip(),
                           v2.ColorJitter(brightness=63 / 255), *_normalize()])
    return v2.Compose([v2.RandomCrop(image_size, padding=image_size // 8), v2.RandomHorizontalFlip(),
                       *_normalize()])


def cam_transform() -> v2.Compose:
    """Table S2 "CAM transformation" for file data: Resize((224, 224)), so a CAM box maps back to
    the whole image by scaling."""
    return v2.Compose([v2.Resize((LARGE_INPUT, LARGE_INPUT), antialias=True), *_normalize()])


def test_transform(image_size: int | None) -> v2.Compose:
    """Table S2 test transform (Resize 256, CenterCrop 224) for file data; identity + normalise else."""
    if image_size is None:
        return v2.Compose([v2.Resize(256, antialias=True), v2.CenterCrop(LARGE_INPUT), *_normalize()])
    return v2.Compose(_normalize())
