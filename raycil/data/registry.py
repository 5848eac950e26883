"""Build the train / test :class:`ImageSet` of a configured dataset, in class-order labels."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from raycil.data import files, synthetic
from raycil.data.imageset import ImageSet
from raycil.data.protocol import class_order, remap_labels
from raycil.data.transforms import LARGE_INPUT

if TYPE_CHECKING:
    from raycil.config import DatasetConfig

FIXED_CLASSES = {"cifar100": 100, "imagenet100": 100, "imagenet1000": 1000, "food101": 101}


@dataclass
class Dataset:
    train: ImageSet
    test: ImageSet
    image_size: int | None  # None: variable-size file images with Table S2 transforms


def dataset_num_classes(cfg: DatasetConfig) -> int:
    return FIXED_CLASSES.get(cfg.name, cfg.num_classes)


def fixed_image_size(cfg: DatasetConfig) -> int | None:
    """The side of the dataset's square images, or None for variable-size file images."""
    return {"synthetic": cfg.image_size, "cifar100": 32}.get(cfg.name)


def input_size(cfg: DatasetConfig) -> int:
    """The side of the network's square input: the fixed image size, or the 224 px crop of
    file images (Table S2 transforms)."""
    return fixed_image_size(cfg) or LARGE_INPUT


def _load_raw(cfg: DatasetConfig) -> tuple[ImageSet, ImageSet, int | None]:
    if cfg.name == "synthetic":
        sets = [ImageSet(*synthetic.generate(cfg.num_classes, n, cfg.image_size, cfg.data_seed, split))
                for split, n in (("train", cfg.train_per_class), ("test", cfg.test_per_class))]
        return sets[0], sets[1], fixed_image_size(cfg)
    assert cfg.root is not None
    if cfg.name == "cifar100":
        return (*files.load_cifar100(cfg.root), fixed_image_size(cfg))
    if cfg.name == "food101":
        return (*files.load_food101(cfg.root), None)
    return (*files.load_imagenet(cfg.root, subset_100=cfg.name == "imagenet100"), None)


@functools.lru_cache(maxsize=4)
def _load_cached(cfg_json: str) -> Dataset:
    from raycil.config import DatasetConfig

    cfg = DatasetConfig.model_validate_json(cfg_json)
    train, test, size = _load_raw(cfg)
    order = class_order(dataset_num_classes(cfg), cfg.class_order_seed, cfg.class_order)
    train.labels, test.labels = remap_labels(train.labels, order), remap_labels(test.labels, order)
    return Dataset(train, test, size)


def load_dataset(cfg: DatasetConfig) -> Dataset:
    """The dataset with labels remapped to class-order positions (phase 1 = labels 0..first-1).

    Cached per process, so a learner and a memory in one process share one copy."""
    return _load_cached(cfg.model_dump_json())
