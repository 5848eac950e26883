"""True object boxes for a file tree: ``dataset.boxes``, a CSV with the header
``path,x0,y0,x1,y1`` — the image's path relative to ``dataset.root`` (e.g. ``train/cat/001.png``)
and its box in pixels of the image file (x1, y1 exclusive, as the generated data's boxes). Boxes
are scaled with the image to the configured side, so CIM's CAM / CIM boxes are scored against
them exactly as against the generated data's (CIM §5.4 IoU)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from raycil.data.folder import DataError

COLUMNS = ["path", "x0", "y0", "x1", "y1"]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the image file


def read_boxes(csv_path: Path) -> dict[str, Box]:
    """The file's rows by path; a DataError names the file and line of a malformed row."""
    import pandas as pd  # only a tree with a boxes file needs it (a MemoryActor's imports stay small)

    try:
        table = pd.read_csv(csv_path, dtype={"path": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"dataset.boxes: cannot read '{csv_path}' as CSV ({err})") from None
    if list(table.columns) != COLUMNS:
        raise DataError(f"dataset.boxes: '{csv_path}' must have the header {','.join(COLUMNS)} "
                        f"(found {','.join(map(str, table.columns))})")
    boxes: dict[str, Box] = {}
    for line, row in enumerate(table.itertuples(index=False), start=2):
        try:
            coords = tuple(float(v) for v in row[1:])
        except (TypeError, ValueError):
            coords = (math.nan,)
        x0, y0, x1, y1 = coords if len(coords) == 4 and all(map(math.isfinite, coords)) else (0, 0, 0, 0)
        if not (0 <= x0 < x1 and 0 <= y0 < y1):
            raise DataError(f"dataset.boxes: '{csv_path}' line {line}: x0, y0, x1, y1 must be numbers with "
                            f"0 <= x0 < x1 and 0 <= y0 < y1 (got {', '.join(map(str, row[1:]))})")
        if row[0] in boxes:
            raise DataError(f"dataset.boxes: '{csv_path}' line {line}: '{row[0]}' has a box already")
        boxes[str(row[0])] = (x0, y0, x1, y1)
    return boxes


def split_boxes(boxes: dict[str, Box], paths: list[str], sizes: np.ndarray,
                side: int, csv_path: Path, required: bool) -> np.ndarray | None:
    """The boxes of one split's images scaled to ``side`` (int x0, y0, x1, y1; the scaled box
    covers the original), or None when some image has none and ``required`` is false."""
    missing = [p for p in paths if p not in boxes]
    if missing:
        if required:
            raise DataError(f"dataset.boxes: '{csv_path}' has no box for {len(missing)} of {len(paths)} "
                            f"training images (first: '{missing[0]}'); every training image needs one")
        return None
    out = np.empty((len(paths), 4), np.int32)
    for i, (rel, (h, w)) in enumerate(zip(paths, sizes, strict=True)):
        x0, y0, x1, y1 = boxes[rel]
        if x1 > w or y1 > h:
            raise DataError(f"dataset.boxes: the box of '{rel}' ({x0:g}, {y0:g}, {x1:g}, {y1:g}) leaves its "
                            f"{w}x{h} image")
        sx, sy = side / w, side / h
        out[i] = (math.floor(round(x0 * sx, 6)), math.floor(round(y0 * sy, 6)),
                  min(side, math.ceil(round(x1 * sx, 6))), min(side, math.ceil(round(y1 * sy, 6))))
    return out


def unknown_paths(boxes: dict[str, Box], known: set[str], csv_path: Path) -> None:
    """Refuse a row naming no image of the tree (a typo would otherwise drop a box silently)."""
    stray = sorted(set(boxes) - known)
    if stray:
        raise DataError(f"dataset.boxes: '{csv_path}' names '{stray[0]}', which is not an image of the tree "
                        f"({len(stray)} such; paths are relative to dataset.root, e.g. train/<class>/<file>)")
