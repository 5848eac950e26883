"""Datasets read from local files: CIFAR-100 (torchvision layout), ImageNet-100/1000 (ImageFolder
tree with train/ and val/), Food-101 (images/ + meta/train.txt, meta/test.txt). Nothing is
downloaded; a missing root or file is a :class:`FileNotFoundError` naming the path."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from raycil.data.imageset import ImageFiles, ImageSet

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".JPEG"}


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"dataset.root: {what} '{path}' does not exist")
    return path


def load_cifar100(root: str) -> tuple[ImageSet, ImageSet]:
    """CIFAR-100 python pickles as torchvision lays them out: ``root/cifar-100-python/{train,test}``."""
    folder = _require(Path(root) / "cifar-100-python", "CIFAR-100 folder")
    sets = []
    for split in ("train", "test"):
        with open(_require(folder / split, "CIFAR-100 file"), "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
        images = np.asarray(entry["data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        sets.append(ImageSet(np.ascontiguousarray(images), np.asarray(entry["fine_labels"], np.int64)))
    return sets[0], sets[1]


def imagenet100_synsets(all_synsets: list[str]) -> list[str]:
    """ImageNet-100: ``np.random.seed(1993); np.random.permutation(1000)[:100]`` of the sorted synsets."""
    ordered = sorted(all_synsets)
    picks = np.random.RandomState(1993).permutation(len(ordered))[:100]
    return sorted(ordered[i] for i in picks)


def _folder_split(split_dir: Path, classes: list[str]) -> ImageSet:
    paths, labels = [], []
    for label, name in enumerate(classes):
        cdir = _require(split_dir / name, "class folder")
        files = sorted(p for p in cdir.iterdir() if p.suffix in IMAGE_SUFFIXES)
        paths += [str(p) for p in files]
        labels += [label] * len(files)
    return ImageSet(ImageFiles(paths), np.asarray(labels, np.int64))


def load_imagenet(root: str, subset_100: bool) -> tuple[ImageSet, ImageSet]:
    train_dir = _require(Path(root) / "train", "ImageNet train folder")
    val_dir = _require(Path(root) / "val", "ImageNet val folder")
    synsets = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if subset_100 and len(synsets) > 100:
        synsets = imagenet100_synsets(synsets)
    return _folder_split(train_dir, synsets), _folder_split(val_dir, synsets)


def load_food101(root: str) -> tuple[ImageSet, ImageSet]:
    base = Path(root)
    images = _require(base / "images", "Food-101 images folder")
    classes_file = base / "meta" / "classes.txt"
    sets = []
    for split in ("train", "test"):
        lines = _require(base / "meta" / f"{split}.txt", "Food-101 split file").read_text().split()
        if classes_file.exists():
            classes = classes_file.read_text().split()
        else:
            classes = sorted({line.split("/")[0] for line in lines})
        index = {c: i for i, c in enumerate(classes)}
        paths = [str(images / f"{line}.jpg") for line in lines]
        labels = [index[line.split("/")[0]] for line in lines]
        sets.append(ImageSet(ImageFiles(paths), np.asarray(labels, np.int64)))
    return sets[0], sets[1]
