"""Exemplar codecs through the memory's own calls (not a test): images per second stored
(``codec.encode``) and read back (``Exemplar.decode``), and the memory units one exemplar costs,
for CIM compression (a random box per image, η = 4) and JPEG (MRDC) at several qualities, on
images of the built-in generated data at 32 and 224 px. (The raw codec keeps a reference to the
image, no copy: it costs nothing to compare against.) The last column is the seconds a phase
spends storing and twice reading back a memory of 2,000 such exemplars.

    python benchmarks/bench_codecs.py [--images 256] [--repeats 5] [--sizes 32 224]

Rates are medians over ``--repeats`` passes over the same images, on one thread.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from raycil.data.synthetic import generate
from raycil.memory.codec import ExemplarCodec
from raycil.plugins.cim.compression import random_box
from raycil.plugins.cim.storage import CimCodec
from raycil.plugins.mrdc.jpeg import JpegCodec


def per_second(fn: Callable[[], object], n: int, repeats: int) -> float:
    """``n`` items over the median wall time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def measure(codec: ExemplarCodec[Any], images: np.ndarray, args: list[Any], repeats: int) -> dict[str, float]:
    stored = [codec.encode(im, a) for im, a in zip(images, args, strict=True)]
    return {
        "encode": per_second(lambda: [codec.encode(im, a) for im, a in zip(images, args, strict=True)],
                             len(images), repeats),
        "decode": per_second(lambda: [e.decode() for e in stored], len(images), repeats),
        "units": float(np.mean([e.units for e in stored])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 224])
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    for size in args.sizes:
        per_class = -(-args.images // 8)
        images = generate(8, per_class, size, 0, "train")[0][: args.images]
        boxes = [random_box(size, size, rng) for _ in images]
        rows: list[tuple[str, ExemplarCodec[Any], list[Any]]] = [
            ("CIM, random box, eta 4", CimCodec(4.0), boxes)]
        rows += [(f"JPEG quality {q}", JpegCodec(), [q] * len(images)) for q in (10, 50, 90)]
        results = {name: measure(codec, images, a, args.repeats) for name, codec, a in rows}
        print(f"{size}x{size} images, {len(images)} of the generated data, median of {args.repeats}, "
              "one thread:")
        print(f"  {'codec':<24} {'units':>6} {'encode/s':>10} {'decode/s':>10} {'2,000-exemplar phase':>21}")
        for name, r in results.items():
            phase = 2000 / r["encode"] + 2 * 2000 / r["decode"]
            print(f"  {name:<24} {r['units']:>6.3f} {r['encode']:>10.0f} {r['decode']:>10.0f} "
                  f"{phase:>20.2f}s")


if __name__ == "__main__":
    main()
