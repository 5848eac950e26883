"""The exemplar memory: stores what it counts, never more than its budget.

Each class keeps an ordered list of exemplars (selection priority first); when new classes
arrive under a fixed budget, every old class keeps the longest prefix that fits its new share
(class-balanced shrinking). An exemplar's cost is in memory units (DESIGN.md); plain exemplars
cost one unit, compressed ones (CIM Eq. 4) less, so the same budget holds more of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from raycil.data.imageset import stack_images
from raycil.memory.budget import EPS, Budget
from raycil.memory.selection import herding_order, random_order


class Exemplar(Protocol):
    units: float

    def decode(self) -> np.ndarray: ...

    @property
    def nbytes(self) -> int: ...


@dataclass
class PlainExemplar:
    """An original image: one memory unit."""

    image: np.ndarray
    units: float = 1.0

    def decode(self) -> np.ndarray:
        return self.image

    @property
    def nbytes(self) -> int:
        return int(self.image.nbytes)


Encoder = Callable[[np.ndarray, int], Exemplar]  # (image, index in the candidate set) -> exemplar


def plain_encoder(image: np.ndarray, index: int) -> Exemplar:
    return PlainExemplar(np.ascontiguousarray(image))


class ExemplarMemory:
    """Per-class ordered exemplar lists under a :class:`Budget`."""

    def __init__(self, budget: Budget, selection: str = "herding"):
        self.budget, self.selection = budget, selection
        self.classes: dict[int, list[Exemplar]] = {}

    # -------------------------------------------------------------- accounting
    @property
    def units_used(self) -> float:
        return float(sum(e.units for items in self.classes.values() for e in items))

    @property
    def nbytes(self) -> int:
        return int(sum(e.nbytes for items in self.classes.values() for e in items))

    def counts(self) -> dict[int, int]:
        return {c: len(items) for c, items in sorted(self.classes.items())}

    def __len__(self) -> int:
        return sum(len(v) for v in self.classes.values())

    # -------------------------------------------------------------- updates
    @staticmethod
    def _prefix_within(items: list[Exemplar], units: float) -> list[Exemplar]:
        kept, used = [], 0.0
        for e in items:
            if used + e.units > units + EPS:
                break
            kept.append(e)
            used += e.units
        return kept

    def shrink(self, num_seen_classes: int) -> None:
        """Class-balanced shrinking: each class keeps the prefix that fits its share."""
        share = self.budget.per_class(num_seen_classes)
        self.classes = {c: self._prefix_within(items, share) for c, items in self.classes.items()}

    def add_class(
        self,
        class_id: int,
        images: Any,
        features: np.ndarray | None,
        share: float,
        rng: np.random.Generator,
        encode: Encoder = plain_encoder,
        min_units: float = 1.0,
    ) -> None:
        """Select exemplars of one new class and store as many as fit in ``share`` units.

        ``encode`` turns a candidate into what is stored (plain or compressed); ``min_units`` is
        the cheapest possible cost, which bounds how many candidates selection must rank."""
        n = len(images)
        k = min(n, int(share / min_units + EPS)) if share > 0 else 0
        if self.selection == "herding":
            if features is None:
                raise ValueError("herding selection needs the candidates' features")
            order = herding_order(features, k)
        else:
            order = random_order(n, k, rng)
        stored, used = [], 0.0
        for i in order:
            item = encode(images[int(i)], int(i))
            if used + item.units > share + EPS:
                break
            stored.append(item)
            used += item.units
        self.classes[class_id] = stored

    # -------------------------------------------------------------- reading
    def exemplar_arrays(self) -> tuple[np.ndarray | list[np.ndarray], np.ndarray]:
        """Decoded exemplars (one array when all have one shape) and their labels."""
        images, labels = [], []
        for c, items in sorted(self.classes.items()):
            images += [e.decode() for e in items]
            labels += [c] * len(items)
        return stack_images(images), np.asarray(labels, np.int64)

    def state(self) -> dict[str, Any]:
        return {"classes": self.classes, "budget": self.budget, "selection": self.selection}

    def load_state(self, state: dict[str, Any]) -> None:
        self.classes, self.budget, self.selection = state["classes"], state["budget"], state["selection"]
