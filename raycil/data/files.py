"""Datasets read from local files: CIFAR-100 (torchvision layout), ImageNet-100/1000 and any image
folder (train/ and val/ or test/ class folders), Food-101 (images/ + meta/train.txt,
meta/test.txt). Nothing is downloaded; a missing root or file is a :class:`FileNotFoundError`
naming the path, a bad tree or image a :class:`~raycil.data.folder.DataError`."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from raycil.data.boxes_file import read_boxes, split_boxes, unknown_paths
from raycil.data.decoded import cache_dir, decoded_split
from raycil.data.folder import DataError, class_names, scan_tree
from raycil.data.imageset import ImageFiles, ImageSet


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


def imagenet_classes(root: str, subset_100: bool) -> list[str]:
    """ImageNet's synsets: all 1000, or ImageNet-100's (a tree of exactly 100 is taken as it is);
    a DataError for a tree that is neither, with the hint to read it as ``imagefolder``."""
    synsets = class_names(root)
    want = 100 if subset_100 else 1000
    if subset_100 and len(synsets) == 1000:
        return imagenet100_synsets(synsets)
    if len(synsets) != want:
        name = "imagenet100" if subset_100 else "imagenet1000"
        allowed = "100 synset folders (or all 1000)" if subset_100 else "1000 synset folders"
        raise DataError(f"dataset.name: {name} needs {allowed} under '{root}/train' (found {len(synsets)}); "
                        "for your own tree use dataset.name: imagefolder")
    return synsets


def load_imagenet(root: str, subset_100: bool) -> tuple[ImageSet, ImageSet]:
    """Variable-size file images, decoded per batch (Table S2 transforms)."""
    tree = scan_tree(root, imagenet_classes(root, subset_100))
    return tuple(ImageSet(ImageFiles([str(tree.root / p) for p in split.paths]), split.labels)  # type: ignore[return-value]
                 for split in (tree.train, tree.test))


def load_imagefolder(root: str, side: int, cache: str | None,
                     boxes_csv: str | None) -> tuple[ImageSet, ImageSet]:
    """A tree's images resized whole to ``side`` and decoded once into the cache, with the true
    boxes of ``boxes_csv`` when given (every training image needs one; test boxes are kept when
    every test image has one)."""
    tree = scan_tree(root)
    csv = Path(boxes_csv).expanduser() if boxes_csv else None
    boxes = read_boxes(csv) if csv else None
    if boxes is not None and csv is not None:
        unknown_paths(boxes, set(tree.train.paths) | set(tree.test.paths), csv)
    sets = []
    for split, required in ((tree.train, True), (tree.test, False)):
        images, sizes = decoded_split(tree.root, split.paths, side, cache_dir(cache))
        split_box = None if boxes is None or csv is None else split_boxes(boxes, split.paths, sizes, side,
                                                                          csv, required)
        sets.append(ImageSet(images, split.labels, split_box))
    return sets[0], sets[1]


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
