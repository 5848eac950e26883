"""Decode a tree's images once: square uint8 arrays at the configured side, kept on disk.

The cache of one split is ``<cache>/<key>.npy`` (N x S x S x 3 uint8, memory-mapped
copy-on-write when read, so the learner and memory actors of a node share its pages) and
``<key>.sizes.npy`` (each file's original height and width, to scale its true box). The key
hashes the side, the resampling version and every file's relative path, byte size and
modification time, so an edited, added or removed file gives a new cache, and a cache is never
read for a tree it was not built from. Files are written under a temporary name and renamed, so
trials that build the same cache at once, or a build that is killed, leave no torn file.

Decoding uses Pillow (torchvision's image library), which refuses a truncated PNG or JPEG where
OpenCV fills the missing rows grey; resampling uses OpenCV (area averaging when shrinking, bilinear
when enlarging).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from raycil.data.folder import DataError

RESAMPLING_VERSION = 1  # bump when decoding or resizing changes: old caches are then not read
DEFAULT_CACHE = "~/.cache/raycil/decoded"


def cache_dir(configured: str | None) -> Path:
    """``dataset.cache_dir``, else ``$RAYCIL_CACHE``, else ``~/.cache/raycil/decoded``."""
    return Path(os.path.expanduser(configured or os.environ.get("RAYCIL_CACHE") or DEFAULT_CACHE))


def cache_key(root: Path, paths: list[str], side: int) -> str:
    """A hash of the side, the resampling version and each file's path, size and mtime."""
    digest = hashlib.sha256(f"v{RESAMPLING_VERSION} side={side}\n".encode())
    for rel in paths:
        st = (root / rel).stat()
        digest.update(f"{rel}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def decode_square(path: Path, side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """One image as RGB uint8 ``side`` x ``side`` (resized whole, so a box maps by scaling) and
    its original (height, width); a DataError names an unreadable or truncated file."""
    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"dataset.root: cannot decode image '{path}' (unreadable or truncated: {err})") \
            from None
    h, w = rgb.shape[:2]
    if (h, w) != (side, side):
        shrink = h * w > side * side
        rgb = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(rgb), (h, w)


@contextmanager
def published_pair(target: Path, side_suffix: str) -> Iterator[tuple[Path, Path]]:
    """Temporary paths for ``target`` (a ``.npy``) and its side file, renamed over
    ``target.with_suffix(side_suffix)`` and ``target`` (last: it marks the pair complete) when
    the block ends without error, removed in any case: no torn file is ever read."""
    tmp_main = target.with_name(f"{target.stem}.{os.getpid()}.tmp.npy")
    tmp_side = target.with_name(f"{target.stem}.{os.getpid()}.tmp{side_suffix}")
    try:
        yield tmp_main, tmp_side
        os.replace(tmp_side, target.with_suffix(side_suffix))
        os.replace(tmp_main, target)
    finally:
        for tmp in (tmp_main, tmp_side):
            tmp.unlink(missing_ok=True)


def _build(root: Path, paths: list[str], side: int, target: Path) -> None:
    print(f"raycil: decoding {len(paths)} images of '{root}' at {side} px into '{target}' (once)",
          file=sys.stderr, flush=True)
    with published_pair(target, ".sizes.npy") as (tmp_images, tmp_sizes):
        images = np.lib.format.open_memmap(tmp_images, mode="w+", dtype=np.uint8,
                                           shape=(len(paths), side, side, 3))
        sizes = np.empty((len(paths), 2), np.int32)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for i, (image, size) in enumerate(pool.map(lambda rel: decode_square(root / rel, side), paths)):
                images[i], sizes[i] = image, size
        images.flush()
        del images
        np.save(tmp_sizes, sizes)


def decoded_split(root: Path, paths: list[str], side: int, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """The images of ``paths`` (relative to ``root``) as N x side x side x 3 uint8 and their
    original (height, width): read from the cache, built there first if it is not."""
    if not paths:  # e.g. no validation split (dataset.val_fraction: 0)
        return np.empty((0, side, side, 3), np.uint8), np.empty((0, 2), np.int64)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"dataset.cache_dir: cannot create '{cache}' ({err.strerror})") from None
    target = cache / f"{cache_key(root, paths, side)}.npy"
    sizes_file = target.with_suffix(".sizes.npy")
    if not (target.is_file() and sizes_file.is_file()):
        if not os.access(cache, os.W_OK):
            raise DataError(f"dataset.cache_dir: '{cache}' is not writable (set dataset.cache_dir or "
                            "RAYCIL_CACHE)")
        _build(root, paths, side, target)
    return np.load(target, mmap_mode="c"), np.load(sizes_file)
