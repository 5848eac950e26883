"""The built-in generated dataset: objects (shape x colour x texture) on shared clutter.

Each class is one combination of a shape, a hue and a texture. An image draws its object at a
random position, scale and rotation over a cluttered background whose distribution (small
shapes of every shape, colour and texture, lines, noise) is the same for all classes, so the
pixels that tell classes apart are the object's. The true object box is kept with every image
(CIM's CAM / CIM boxes are scored against it). Everything is a pure function of
``(data_seed, split, class, index)``: no files, no downloads.
"""

from __future__ import annotations

import colorsys
import functools
import itertools

import cv2
import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond", "hexagon", "star", "cross", "ring")
HUES = tuple(i / 8 for i in range(8))  # red, orange/yellow, ..., magenta on the HSV wheel
TEXTURES = ("solid", "hstripes", "dstripes", "checker", "dots")
MAX_CLASSES = len(SHAPES) * len(HUES) * len(TEXTURES)
_COMBO_SEED = 20231  # fixed: class k always means the same object, whatever the data seed
_SUPERSAMPLE = 2


@functools.lru_cache(maxsize=1)
def class_attributes() -> list[tuple[str, float, str]]:
    """All (shape, hue, texture) combinations in a fixed shuffled order; class k is entry k."""
    combos = list(itertools.product(SHAPES, HUES, TEXTURES))
    perm = np.random.RandomState(_COMBO_SEED).permutation(len(combos))
    return [combos[i] for i in perm]


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[np.ndarray]:
    def ring_pts(n: int, radius: float, offset: float = 0.0) -> np.ndarray:
        t = angle + offset + np.arange(n) * 2 * np.pi / n
        return np.stack([cx + radius * np.cos(t), cy + radius * np.sin(t)], 1)

    if shape == "square":
        return [ring_pts(4, r, np.pi / 4)]
    if shape == "diamond":
        pts = ring_pts(4, r)
        pts[[1, 3]] = (pts[[1, 3]] - [cx, cy]) * 0.6 + [cx, cy]
        return [pts]
    if shape == "triangle":
        return [ring_pts(3, r, -np.pi / 2)]
    if shape == "hexagon":
        return [ring_pts(6, r)]
    if shape == "star":
        outer, inner = ring_pts(5, r, -np.pi / 2), ring_pts(5, r * 0.45, -np.pi / 2 + np.pi / 5)
        return [np.stack([outer, inner], 1).reshape(-1, 2)]
    if shape == "cross":
        w = r * 0.35
        arms = np.array([[-w, -r], [w, -r], [w, -w], [r, -w], [r, w], [w, w], [w, r], [-w, r],
                         [-w, w], [-r, w], [-r, -w], [-w, -w]])
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return [arms @ rot.T + [cx, cy]]
    raise ValueError(shape)


def _shape_mask(size: int, shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    if shape == "circle":
        cv2.circle(mask, (round(cx), round(cy)), max(1, round(r)), 255, -1, cv2.LINE_AA)
    elif shape == "ring":
        cv2.circle(mask, (round(cx), round(cy)), max(1, round(r)), 255, -1, cv2.LINE_AA)
        cv2.circle(mask, (round(cx), round(cy)), max(1, round(r * 0.55)), 0, -1, cv2.LINE_AA)
    else:
        pts = [np.round(p).astype(np.int32) for p in _polygon(shape, cx, cy, r, angle)]
        cv2.fillPoly(mask, pts, 255, cv2.LINE_AA)
    return mask


def _texture(size: int, texture: str, period: float, phase: float, angle: float) -> np.ndarray:
    """A [0, 1] modulation map: 1 = full colour, lower = darker pattern."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    if texture == "solid":
        return np.ones((size, size), np.float32)
    if texture == "hstripes":
        return 0.35 + 0.65 * (np.sin(2 * np.pi * v / period + phase) > 0)
    if texture == "dstripes":
        return 0.35 + 0.65 * (np.sin(2 * np.pi * (u + v) / (1.4 * period) + phase) > 0)
    if texture == "checker":
        return 0.35 + 0.65 * ((np.sin(2 * np.pi * u / period + phase) > 0)
                              ^ (np.sin(2 * np.pi * v / period + phase) > 0))
    if texture == "dots":
        d = np.hypot(np.mod(u + phase, period) - period / 2, np.mod(v + phase, period) - period / 2)
        return np.where(d < period * 0.3, 0.3, 1.0).astype(np.float32)
    raise ValueError(texture)


def _rgb(hue: float, sat: float, val: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, sat, val), np.float32) * 255


def _paint(canvas: np.ndarray, mask: np.ndarray, colour: np.ndarray, modulation: np.ndarray) -> None:
    alpha = (mask.astype(np.float32) / 255)[..., None]
    layer = colour[None, None, :] * modulation[..., None]
    canvas *= 1 - alpha
    canvas += alpha * layer


def _clutter_shape(canvas: np.ndarray, rng: np.random.Generator, big: int) -> None:
    """A small shape of a random class's attributes at a random place."""
    c_shape, c_hue, c_tex = class_attributes()[int(rng.integers(MAX_CLASSES))]
    r = rng.uniform(0.05, 0.14) * big
    mask = _shape_mask(big, c_shape, *rng.uniform(0, big, 2), r, rng.uniform(0, 2 * np.pi))
    mod = _texture(big, c_tex, max(3.0, r * 0.8), rng.uniform(0, 6.3), rng.uniform(0, np.pi))
    _paint(canvas, mask, _rgb(c_hue + rng.normal(0, 0.03), rng.uniform(0.4, 1), rng.uniform(0.4, 1)), mod)


def render(class_id: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One image (uint8 HxWx3 RGB) of class ``class_id`` and its object box (x0, y0, x1, y1)."""
    shape, hue, texture = class_attributes()[class_id]
    big = size * _SUPERSAMPLE
    base = _rgb(rng.uniform(), rng.uniform(0.0, 0.3), rng.uniform(0.35, 0.75))
    canvas = np.broadcast_to(base, (big, big, 3)).astype(np.float32).copy()
    # Shared clutter: small shapes of any class attribute, and lines, for every class alike.
    for _ in range(int(rng.integers(6, 12))):
        _clutter_shape(canvas, rng, big)
    for _ in range(int(rng.integers(2, 5))):
        p0, p1 = rng.uniform(0, big, 2), rng.uniform(0, big, 2)
        colour = tuple(float(c) for c in _rgb(rng.uniform(), rng.uniform(0, 1), rng.uniform(0.2, 1)))
        cv2.line(canvas, tuple(np.round(p0).astype(int)), tuple(np.round(p1).astype(int)), colour,
                 max(1, round(big * 0.02)), cv2.LINE_AA)
    # The object.
    r = rng.uniform(0.15, 0.32) * big
    cx, cy = rng.uniform(r * 0.8, big - r * 0.8, 2)
    mask = _shape_mask(big, shape, cx, cy, r, rng.uniform(-0.35, 0.35))
    mod = _texture(big, texture, max(4.0, r * rng.uniform(0.45, 0.65)), rng.uniform(0, 6.3),
                   rng.uniform(-0.3, 0.3))
    colour = _rgb(hue + rng.normal(0, 0.025), rng.uniform(0.55, 1.0), rng.uniform(0.6, 1.0))
    _paint(canvas, mask, colour, mod)
    for _ in range(int(rng.integers(0, 3))):  # clutter may occlude part of the object
        _clutter_shape(canvas, rng, big)
    canvas += rng.normal(0, 12, canvas.shape).astype(np.float32)
    image = cv2.resize(np.clip(canvas, 0, 255), (size, size), interpolation=cv2.INTER_AREA)
    small = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA) > 127
    ys, xs = np.nonzero(small)
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] if len(xs) else [0, 0, size, size],
                   np.int32)
    return image.astype(np.uint8), box


def generate(
    num_classes: int, per_class: int, size: int, data_seed: int, split: str, class_offset: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``per_class`` images of each class: (images NxHxWx3 uint8, labels N, boxes Nx4). Label c
    draws class ``class_offset + c`` (its object and its random stream), so an offset dataset's
    classes are disjoint from those below it and the same images a larger dataset draws."""
    if class_offset + num_classes > MAX_CLASSES:
        raise ValueError(f"dataset.num_classes: the synthetic dataset has at most {MAX_CLASSES} classes")
    split_id = {"train": 0, "test": 1, "val": 2}[split]
    images = np.empty((num_classes * per_class, size, size, 3), np.uint8)
    boxes = np.empty((num_classes * per_class, 4), np.int32)
    labels = np.repeat(np.arange(num_classes, dtype=np.int64), per_class)
    for i, (c, k) in enumerate(itertools.product(range(num_classes), range(per_class))):
        cls = class_offset + c
        images[i], boxes[i] = render(cls, np.random.default_rng([data_seed, split_id, cls, k]), size)
    return images, labels, boxes
