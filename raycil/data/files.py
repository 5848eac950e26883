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
from raycil.data.folder import DataError, FolderTree, SplitFiles, class_names, scan_tree
from raycil.data.imageset import ImageFiles, ImageSet
from raycil.data.validation import split_indices


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"dataset.root: {what} '{path}' does not exist")
    return path


def load_cifar100(root: str) -> tuple[ImageSet, None, ImageSet]:
    """CIFAR-100 python pickles as torchvision lays them out: ``root/cifar-100-python/{train,test}``."""
    folder = _require(Path(root) / "cifar-100-python", "CIFAR-100 folder")
    sets = []
    for split in ("train", "test"):
        with open(_require(folder / split, "CIFAR-100 file"), "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
        images = np.asarray(entry["data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        sets.append(ImageSet(np.ascontiguousarray(images), np.asarray(entry["fine_labels"], np.int64)))
    return sets[0], None, sets[1]


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


def tree_splits(tree: FolderTree, val_fraction: float,
                data_seed: int) -> tuple[SplitFiles, SplitFiles, SplitFiles]:
    """(train, validation, test) files of a tree: its own val/ beside test/, else ``val_fraction``
    of each class's train/ files held out (:mod:`raycil.data.validation`), before decoding, so
    each split is decoded and cached on its own."""
    if tree.val is not None:
        return tree.train, tree.val, tree.test
    keep, val = split_indices(tree.train.labels, val_fraction, data_seed)

    def part(idx: np.ndarray) -> SplitFiles:
        return SplitFiles([tree.train.paths[i] for i in idx], tree.train.labels[idx])

    return part(keep), part(val), tree.test


def load_imagenet(root: str, subset_100: bool, val_fraction: float = 0.0,
                  data_seed: int = 0) -> tuple[ImageSet, ImageSet, ImageSet]:
    """Variable-size file images, decoded per batch (Table S2 transforms), as (train,
    validation, test) (:func:`tree_splits`)."""
    tree = scan_tree(root, imagenet_classes(root, subset_100))
    train, val, test = (ImageSet(ImageFiles([str(tree.root / p) for p in split.paths]), split.labels)
                        for split in tree_splits(tree, val_fraction, data_seed))
    return train, val, test


def load_imagefolder(root: str, side: int, cache: str | None, boxes_csv: str | None,
                     val_fraction: float = 0.0, data_seed: int = 0) -> tuple[ImageSet, ImageSet, ImageSet]:
    """A tree's (train, validation, test) images (:func:`tree_splits`) resized whole to ``side``
    and decoded once into the cache, with the true boxes of ``boxes_csv`` when given (every
    image of train/ needs one, a held-out one too; a val/ or test/ split keeps its boxes when
    every image of it has one)."""
    tree = scan_tree(root)
    csv = Path(boxes_csv).expanduser() if boxes_csv else None
    boxes = read_boxes(csv) if csv else None
    splits = tree_splits(tree, val_fraction, data_seed)
    decoded = [decoded_split(tree.root, split.paths, side, cache_dir(cache)) for split in splits]
    if boxes is None or csv is None:
        return tuple(ImageSet(images, split.labels)  # type: ignore[return-value]
                     for split, (images, _) in zip(splits, decoded, strict=True))
    own_val = tree.val is not None
    unknown_paths(boxes, set(tree.train.paths) | {p for split in splits for p in split.paths}, csv)
    # train/'s boxes checked in its own file order, the held-out images among them
    sizes = {p: size for split, (_, sz) in zip(splits[: 1 if own_val else 2], decoded, strict=False)
             for p, size in zip(split.paths, sz, strict=True)}
    train_boxes = split_boxes(boxes, tree.train.paths, np.asarray([sizes[p] for p in tree.train.paths]), side,
                              csv, True)
    assert train_boxes is not None
    row = {p: i for i, p in enumerate(tree.train.paths)}
    sets = []
    for k, (split, (images, sz)) in enumerate(zip(splits, decoded, strict=True)):
        if k == 0 or (k == 1 and not own_val):
            split_box = train_boxes[[row[p] for p in split.paths]].reshape(-1, 4)
        else:
            split_box = split_boxes(boxes, split.paths, sz, side, csv, False)
        sets.append(ImageSet(images, split.labels, split_box))
    return sets[0], sets[1], sets[2]


def load_food101(root: str) -> tuple[ImageSet, None, ImageSet]:
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
    return sets[0], None, sets[1]
