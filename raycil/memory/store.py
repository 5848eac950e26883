"""The exemplar memory: stores what it counts, never more than its budget.

Each class keeps an ordered list of exemplars (selection priority first); when new classes
arrive under a fixed budget, every old class keeps the longest prefix that fits its new share
(class-balanced shrinking). An exemplar's cost is in memory units (docs/concepts.md): a raw exemplar
costs one unit, a compressed one (CIM, MRDC) its bytes over the original's, so the same budget
holds more of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from raycil.data.imageset import stack_images
from raycil.memory.budget import EPS, Budget
from raycil.memory.codec import Candidates, Exemplar, ExemplarCodec
from raycil.memory.selection import herding_order, random_order

Exemplars = tuple[np.ndarray | list[np.ndarray], np.ndarray]  # decoded images (an array if one shape), labels


class ExemplarMemory:
    """Per-class ordered exemplar lists under a :class:`Budget`, stored by one codec."""

    def __init__(self, budget: Budget, selection: str, codec: ExemplarCodec[Any]):
        self.budget, self.selection, self.codec = budget, selection, codec
        self.classes: dict[int, list[Exemplar]] = {}

    # -------------------------------------------------------------- accounting
    @property
    def stored(self) -> list[Exemplar]:
        return [e for items in self.classes.values() for e in items]

    @property
    def units_used(self) -> float:
        return float(sum(e.units for e in self.stored))

    @property
    def nbytes(self) -> int:
        return int(sum(e.nbytes for e in self.stored))

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

    def add_class(self, class_id: int, images: Any, candidates: Candidates[Any], share: float,
                  rng: np.random.Generator) -> None:
        """Store the best candidates of one new class, in selection order, encoded by the
        codec, until the next one would overflow the class's ``share`` of units."""
        stored: list[Exemplar] = []
        if share > 0:
            if self.selection == "herding":
                if candidates.features is None:
                    raise ValueError("herding selection needs the candidates' features")
                order = herding_order(candidates.features)
            else:
                order = random_order(len(images), rng)
            used = 0.0
            for i in order:
                item = self.codec.encode(images[i], candidates.arg(i))
                if used + item.units > share + EPS:
                    break
                stored.append(item)
                used += item.units
        self.classes[class_id] = stored

    def rewrite(self, images: Any, labels: np.ndarray) -> None:
        """Replace every stored exemplar by ``images[i]`` encoded by the codec, in the order of
        :meth:`exemplar_arrays` (same classes and counts; the units must stay within budget)."""
        if not np.array_equal(np.asarray(labels), self.labels()):
            raise ValueError("rewrite: the exemplars must come in the order and number the memory gave them")
        it = iter(images)
        self.classes = {c: [self.codec.encode(next(it), None) for _ in items]
                        for c, items in sorted(self.classes.items())}
        total = self.budget.total(len(self.classes))
        if self.units_used > total + EPS:
            raise ValueError(f"rewrite: {self.units_used:.3f} units exceed the budget of {total:.3f}")

    # -------------------------------------------------------------- reading
    def labels(self) -> np.ndarray:
        """The class of every stored exemplar, in the order of :meth:`exemplar_arrays`."""
        return np.asarray([c for c, items in sorted(self.classes.items()) for _ in items], np.int64)

    def exemplar_arrays(self) -> Exemplars:
        """Decoded exemplars (one array when all have one shape) and their labels."""
        images = [e.decode() for _, items in sorted(self.classes.items()) for e in items]
        return stack_images(images), self.labels()

    def state(self) -> dict[str, Any]:
        return {"classes": self.classes, "budget": self.budget, "selection": self.selection}

    def load_state(self, state: dict[str, Any]) -> None:
        self.classes, self.budget, self.selection = state["classes"], state["budget"], state["selection"]
