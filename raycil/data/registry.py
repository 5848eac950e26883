"""Build the train / test :class:`ImageSet` of a configured dataset, in class-order labels."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from raycil.data import files, generated, synthetic
from raycil.data.config import DatasetConfig, augmentation, dataset_num_classes, fixed_image_size
from raycil.data.folder import class_names, resolve_class_order
from raycil.data.imageset import ImageSet
from raycil.data.protocol import class_order, remap_labels
from raycil.data.validation import hold_out, validation_per_class


@dataclass
class Dataset:
    """``train`` never holds a ``val`` image; ``val`` is empty with ``dataset.val_fraction: 0``."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    image_size: int | None  # None: variable-size file images with Table S2 transforms
    augment: str = "pad_crop_flip"  # of fixed-size images in training: see augmentation()


def label_order(cfg: DatasetConfig) -> np.ndarray:
    """The class order as original class ids: position p holds the class that gets label p."""
    explicit = cfg.class_order
    if explicit is not None and cfg.name == "imagefolder":
        explicit = resolve_class_order(explicit, class_names(cfg.root or ""))
    return class_order(dataset_num_classes(cfg), cfg.class_order_seed, explicit)  # type: ignore[arg-type]


def class_labels(cfg: DatasetConfig) -> list[str]:
    """The classes' names in label order (label 0 first): folder names of a tree, the generated
    data's shape-colour-texture, the original class id otherwise."""
    if cfg.name == "imagefolder":
        names = class_names(cfg.root or "")
    elif cfg.name == "synthetic":
        attributes = synthetic.class_attributes()[cfg.class_offset: cfg.class_offset + cfg.num_classes]
        names = [f"{texture}-{shape}-hue{round(hue * 360)}" for shape, hue, texture in attributes]
    else:
        names = [str(i) for i in range(dataset_num_classes(cfg))]
    return [names[int(c)] for c in label_order(cfg)]


def _load_raw(cfg: DatasetConfig) -> tuple[ImageSet, ImageSet | None, ImageSet, int | None]:
    """(train, validation images or None where they are still to be held out of train, test,
    image side)."""
    if cfg.name == "synthetic":
        counts = (("train", cfg.train_per_class), ("val", synthetic_val_per_class(cfg)),
                  ("test", cfg.test_per_class))
        train, val, test = (ImageSet(*generated.generated_split(
            cfg.num_classes, n, cfg.image_size, cfg.data_seed, split, cfg.cache_dir, cfg.class_offset))
            for split, n in counts)
        return train, val, test, fixed_image_size(cfg)
    assert cfg.root is not None
    if cfg.name == "imagefolder":
        return (*files.load_imagefolder(cfg.root, cfg.image_size, cfg.cache_dir, cfg.boxes, cfg.val_fraction,
                                        cfg.data_seed), cfg.image_size)
    if cfg.name == "cifar100":
        return (*files.load_cifar100(cfg.root), fixed_image_size(cfg))
    if cfg.name == "food101":
        return (*files.load_food101(cfg.root), None)
    return (*files.load_imagenet(cfg.root, cfg.name == "imagenet100", cfg.val_fraction, cfg.data_seed), None)


def synthetic_val_per_class(cfg: DatasetConfig) -> int:
    """The generated data draws its validation images apart from its training images (the
    training set stays as drawn): ``val_fraction`` of ``train_per_class`` per class."""
    return validation_per_class(cfg.train_per_class, cfg.val_fraction)


@functools.lru_cache(maxsize=4)
def _load_cached(cfg_json: str) -> Dataset:
    cfg = DatasetConfig.model_validate_json(cfg_json)
    train, val, test, size = _load_raw(cfg)
    if val is None:
        train, val = hold_out(train, cfg.val_fraction, cfg.data_seed)
    order = label_order(cfg)
    for split in (train, val, test):
        split.labels = remap_labels(split.labels, order)
    return Dataset(train, val, test, size, augmentation(cfg))


def check_datasets(cfgs: list[DatasetConfig]) -> None:
    """Read each dataset once (a tree is checked and decoded into its cache, the generated data
    drawn into its), so a bad file is refused before anything trains and a sweep's trials only
    read; the copies are not kept."""
    for cfg in cfgs:
        load_dataset(cfg)
    _load_cached.cache_clear()


def load_dataset(cfg: DatasetConfig) -> Dataset:
    """The dataset with labels remapped to class-order positions (phase 1 = labels 0..first-1).

    Cached per process, so a learner and a memory in one process share one copy. A tree is
    decoded into its cache on the first load (see :mod:`raycil.data.decoded`)."""
    return _load_cached(cfg.model_dump_json())
