"""Image-folder trees: ``root/train/<class>/<image>`` and ``root/val/<class>/<image>`` (or
``test/``), the layout of torchvision's ImageFolder and of ImageNet; with both ``val/`` and
``test/``, ``val/`` is the validation split. Classes are the train folder's
sub-folders, sorted; label k is the k-th name. Every problem with a tree is a :class:`DataError`:
one line naming the folder or file and what is allowed."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raycil.schema import ConfigError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
TEST_SPLITS = ("val", "test")


class DataError(ConfigError):
    """Bad data on disk (a tree, an image, a boxes file): one line naming the file or folder."""


def split_dirs(root: str | os.PathLike) -> tuple[Path, Path | None, Path]:
    """``root/train``, ``root/val`` when ``test/`` is beside it (else None: validation images are
    held out of ``train/``), and the test folder: ``root/test``, else ``root/val`` (ImageNet's
    layout, whose val/ is the papers' test set); a DataError naming what is missing."""
    base = Path(os.path.expanduser(root))
    train = base / "train"
    if not train.is_dir():
        raise DataError(f"dataset.root: '{base}' has no train/ folder (expected train/<class>/<image> and "
                        "val/<class>/<image> or test/<class>/<image>)")
    present = [name for name in TEST_SPLITS if (base / name).is_dir()]
    if not present:
        raise DataError(f"dataset.root: '{base}' has no val/ or test/ folder beside train/ (expected "
                        "val/<class>/<image> or test/<class>/<image>)")
    val = base / "val" if len(present) == 2 else None
    return train, val, base / present[-1]


def _sub_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


@functools.lru_cache(maxsize=16)
def _classes_cached(train: str, mtime_ns: int) -> tuple[str, ...]:
    return tuple(_sub_folders(Path(train)))


def class_names(root: str | os.PathLike) -> list[str]:
    """The tree's classes: the sub-folders of ``train/``, sorted (cached until the folder changes)."""
    train = split_dirs(root)[0]
    names = list(_classes_cached(str(train), train.stat().st_mtime_ns))
    if not names:
        raise DataError(f"dataset.root: '{train}' holds no class folders (expected train/<class>/<image>)")
    return names


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


@dataclass(frozen=True)
class SplitFiles:
    """One split of a tree: image paths (relative to the root, '/'-separated), their labels."""

    paths: list[str]
    labels: np.ndarray


def list_split(root: Path, split_dir: Path, classes: list[str]) -> SplitFiles:
    """The images of ``split_dir``, class folder by class folder in ``classes`` order, files sorted.

    Refused: a class folder of the split that is not a class of the tree, a class with no image."""
    present = set(_sub_folders(split_dir))
    stray = sorted(present - set(classes))
    if stray:
        raise DataError(f"dataset.root: class folder '{split_dir / stray[0]}' is not in "
                        f"'{root / 'train'}' ({len(stray)} such); every class needs training images")
    paths: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        folder = split_dir / name
        files = sorted(p for p in folder.iterdir() if p.is_file() and is_image(p)) if folder.is_dir() else []
        if not files:
            raise DataError(f"dataset.root: class '{name}' has no image in '{split_dir}' (allowed suffixes: "
                            f"{', '.join(IMAGE_SUFFIXES)})")
        paths += [p.relative_to(root).as_posix() for p in files]
        labels += [label] * len(files)
    return SplitFiles(paths, np.asarray(labels, np.int64))


@dataclass(frozen=True)
class FolderTree:
    """A scanned tree: its root, class names and its splits (``val``: None without its own)."""

    root: Path
    classes: list[str]
    train: SplitFiles
    val: SplitFiles | None
    test: SplitFiles


def scan_tree(root: str | os.PathLike, classes: list[str] | None = None) -> FolderTree:
    """The tree's files, checked (see :func:`list_split`); ``classes`` defaults to :func:`class_names`."""
    train_dir, val_dir, test_dir = split_dirs(root)
    base = train_dir.parent
    classes = classes or class_names(base)
    val = list_split(base, val_dir, classes) if val_dir is not None else None
    return FolderTree(base, classes, list_split(base, train_dir, classes), val,
                      list_split(base, test_dir, classes))


def resolve_class_order(order: list[int] | list[str], classes: list[str]) -> list[int]:
    """``dataset.class_order`` as label ids: ints must be a permutation of 0..K-1, names a
    permutation of the tree's class names."""
    k = len(classes)
    if order and all(isinstance(c, str) for c in order):
        index = {name: i for i, name in enumerate(classes)}
        unknown = [c for c in order if c not in index]
        if unknown:
            raise ValueError(f"dataset.class_order: '{unknown[0]}' is not a class of the tree "
                             f"(classes: {', '.join(classes[:8])}{', ...' if k > 8 else ''})")
        order = [index[str(c)] for c in order]
    if sorted(int(c) for c in order) != list(range(k)):
        raise ValueError(f"dataset.class_order must be a permutation of 0..{k - 1} (or of the class names) "
                         f"({len(order)} entries given for {k} classes)")
    return [int(c) for c in order]


def first_image_side(root: str | os.PathLike, largest: int = 512) -> int:
    """The larger side of the tree's first training image: ``dataset.image_size`` when not given."""
    from PIL import Image

    train = split_dirs(root)[0]
    first = next((p for name in class_names(root) if (train / name).is_dir()
                  for p in sorted((train / name).iterdir()) if p.is_file() and is_image(p)), None)
    if first is None:
        raise DataError(f"dataset.root: '{train}' holds no image (allowed suffixes: "
                        f"{', '.join(IMAGE_SUFFIXES)})")
    try:
        with Image.open(first) as im:
            side = max(im.size)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"dataset.root: cannot decode image '{first}' ({err})") from None
    if not 16 <= side <= largest:
        raise DataError(f"dataset.image_size: the tree's first image '{first}' is {side} px; set "
                        f"dataset.image_size (16..{largest}) to the side to train at")
    return side
