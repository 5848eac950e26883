"""Budget accounting in memory units (docs/concepts.md): one unit = the storage of one original image."""

from __future__ import annotations

from dataclasses import dataclass

EPS = 1e-9  # float tolerance on sums of fractional unit costs (CIM Eq. 4)


@dataclass(frozen=True)
class Budget:
    """``fixed``: ``units`` in total over all seen classes; ``growing``: ``units`` per class;
    ``none``: no memory."""

    mode: str
    units: float

    def per_class(self, num_seen_classes: int) -> float:
        """Units each seen class may hold (class-balanced)."""
        if self.mode == "none" or num_seen_classes == 0:
            return 0.0
        if self.mode == "growing":
            return float(self.units)
        return float(self.units) / num_seen_classes

    def total(self, num_seen_classes: int) -> float:
        if self.mode == "none":
            return 0.0
        return float(self.units) * (num_seen_classes if self.mode == "growing" else 1)
