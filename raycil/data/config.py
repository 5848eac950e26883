"""The ``dataset`` section of the experiment schema, importable without torch (a MemoryActor
reads its dataset from it and loads no learner code)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from raycil.data import files
from raycil.data.folder import class_names, first_image_side, resolve_class_order
from raycil.data.synthetic import MAX_CLASSES
from raycil.schema import Seed, Strict

DatasetName = Literal["synthetic", "imagefolder", "cifar100", "imagenet100", "imagenet1000", "food101"]
FILE_DATASETS = ("imagefolder", "cifar100", "imagenet100", "imagenet1000", "food101")
LARGE_INPUT = 224  # the network's input side for file images (CIM Table S2's crop)
FIXED_CLASSES = {"cifar100": 100, "imagenet100": 100, "imagenet1000": 1000, "food101": 101}


class DatasetConfig(Strict):
    """The data. ``imagefolder``: your own tree (``root/train/<class>/*``, ``root/val/<class>/*``
    or ``test/``) at ``image_size`` (default: the first training image's larger side), decoded
    once into ``cache_dir`` (where the generated data is also kept once drawn: see
    :mod:`raycil.data.generated`); ``boxes``: a CSV of true boxes (path,x0,y0,x1,y1). ``num_classes``
    of a file dataset is its own (a given one must agree). ``class_order``: label ids, or a
    tree's class names. ``augment``: see :func:`augmentation`. ``val_fraction``: the validation
    split (:mod:`raycil.data.validation`), held out of each class's training images seeded by
    ``data_seed`` (a tree with both ``val/`` and ``test/`` uses its ``val/``; the generated data
    draws that many more images per class). ``class_offset`` (generated data): label c draws
    class ``class_offset + c``, a class set disjoint from the one at offset 0."""

    name: DatasetName = "synthetic"
    root: str | None = None
    num_classes: int = Field(20, ge=2, le=1000)
    image_size: int = Field(32, ge=16, le=512)
    train_per_class: int = Field(100, ge=2)
    test_per_class: int = Field(30, ge=1)
    data_seed: Seed = 0
    val_fraction: float = Field(0.1, ge=0, lt=1)
    class_offset: int = Field(0, ge=0)
    class_order: list[int] | list[str] | None = None
    class_order_seed: Seed = 1993
    augment: Literal["auto", "pad_crop_flip", "resized_crop"] = "auto"
    boxes: str | None = None
    cache_dir: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _own_size(cls, data: Any) -> Any:
        """A file dataset's class count (and a tree's default image side) come from the data; a
        given class count that disagrees is refused rather than ignored."""
        if not (isinstance(data, dict) and data.get("name") in FILE_DATASETS and _is_dir(data.get("root"))):
            return data
        native = native_num_classes(data["name"], data["root"])
        given = data.get("num_classes")
        if given is not None and given != native:
            where = f"the tree '{data['root']}/train'" if data["name"] == "imagefolder" else data["name"]
            raise ValueError(f"dataset.num_classes: {given} given, but {where} has {native} classes "
                             "(leave num_classes out for a file dataset)")
        data = {**data, "num_classes": native}
        if data["name"] == "imagefolder" and data.get("image_size") is None:
            data["image_size"] = first_image_side(data["root"])
        return data

    @model_validator(mode="after")
    def _check_root(self) -> DatasetConfig:
        if self.name == "synthetic" and self.class_offset + self.num_classes > MAX_CLASSES:
            offset = f" from class_offset {self.class_offset}" if self.class_offset else ""
            raise ValueError(f"dataset.num_classes: {self.num_classes}{offset} exceeds the {MAX_CLASSES} "
                             "classes the synthetic dataset can draw (shape x colour x texture)")
        if self.name != "synthetic" and self.class_offset:
            raise ValueError("dataset.class_offset: only dataset 'synthetic' reads it (a file dataset's "
                             "classes are its own: give another root for other classes)")
        if self.name in FILE_DATASETS:
            if not self.root:
                raise ValueError(f"dataset.root is required for dataset '{self.name}' (a local directory)")
            if not _is_dir(self.root):
                raise ValueError(f"dataset.root: directory '{self.root}' does not exist")
        if self.name != "imagefolder" and self.boxes is not None:
            raise ValueError("dataset.boxes: only dataset 'imagefolder' reads it")
        if self.name not in ("imagefolder", "synthetic") and self.cache_dir is not None:
            raise ValueError("dataset.cache_dir: only datasets 'imagefolder' and 'synthetic' read it")
        if self.boxes is not None and not Path(os.path.expanduser(self.boxes)).is_file():
            raise ValueError(f"dataset.boxes: file '{self.boxes}' does not exist (a CSV path,x0,y0,x1,y1)")
        if fixed_image_size(self) is None and self.augment == "pad_crop_flip":
            raise ValueError(f"dataset.augment: '{self.name}' images vary in size and train with Table S2's "
                             "resized crop; allowed: auto, resized_crop")
        if self.class_order is not None:
            names = class_names(self.root or "") if self.name == "imagefolder" else None
            if names is None and any(isinstance(c, str) for c in self.class_order):
                raise ValueError("dataset.class_order: class names are for dataset 'imagefolder'; "
                                 "give label ids")
            resolve_class_order(self.class_order, names or [str(i) for i in range(dataset_num_classes(self))])
        return self


def has_validation(cfg: DatasetConfig) -> bool:
    """The dataset has a validation split: ``val_fraction`` above 0, or a tree's own val/ beside test/."""
    if cfg.val_fraction > 0:
        return True
    base = Path(os.path.expanduser(cfg.root or ""))
    return cfg.name in ("imagefolder", "imagenet100", "imagenet1000") and (base / "val").is_dir() \
        and (base / "test").is_dir()


def _is_dir(root: Any) -> bool:
    return isinstance(root, str) and Path(os.path.expanduser(root)).is_dir()


def native_num_classes(name: str, root: str | None) -> int | None:
    """The classes a dataset has of itself (a tree: its class folders), None for the generated data."""
    if name == "imagefolder":
        assert root is not None
        return len(class_names(root))
    if name in ("imagenet100", "imagenet1000") and root is not None:
        return len(files.imagenet_classes(root, subset_100=name == "imagenet100"))  # refuses other trees
    return FIXED_CLASSES.get(name)


def dataset_num_classes(cfg: DatasetConfig) -> int:
    return native_num_classes(cfg.name, cfg.root) or cfg.num_classes


def fixed_image_size(cfg: DatasetConfig) -> int | None:
    """The side of the dataset's square images, or None for variable-size file images."""
    return {"synthetic": cfg.image_size, "imagefolder": cfg.image_size, "cifar100": 32}.get(cfg.name)


def input_size(cfg: DatasetConfig) -> int:
    """The side of the network's square input: the fixed image size, or the 224 px crop of
    file images (Table S2 transforms)."""
    return fixed_image_size(cfg) or LARGE_INPUT


def augmentation(cfg: DatasetConfig) -> str:
    """``dataset.augment`` resolved: ``auto`` is pad-crop-flip for small images (and always for
    the generated data and CIFAR-100, as the papers train them), Table S2's resized crop for an
    image folder of 64 px or more, and Table S2 for ImageNet / Food-101 files."""
    if cfg.augment != "auto":
        return cfg.augment
    if fixed_image_size(cfg) is None or (cfg.name == "imagefolder" and cfg.image_size >= 64):
        return "resized_crop"
    return "pad_crop_flip"
