"""Class order and phase splits (docs/concepts.md "class order"; LFS / LFH protocols of CIM §5.1),
the ``protocol`` settings section, and the :class:`PhaseContext` every part of a run receives:
which phase this is and which classes are new in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from raycil.schema import Strict


class ProtocolConfig(Strict):
    """The ``protocol`` section: LFS, N equal phases; LFH, half of the classes first, then N
    phases; custom, ``first`` classes then ``increment`` per phase. ``stop_after``: run only the
    first k phases of that schedule (a tuning protocol's first-phases stage), each phase as in
    the whole run."""

    kind: Literal["lfs", "lfh", "custom"] = "lfs"
    num_phases: int = Field(5, ge=1)
    first: int | None = Field(None, ge=1)
    increment: int | None = Field(None, ge=1)
    stop_after: int | None = Field(None, ge=1)


def class_order(num_classes: int, seed: int = 1993, explicit: list[int] | None = None) -> np.ndarray:
    """The class order: ``explicit`` if given, else ``np.random.seed(seed); permutation(K)``."""
    if explicit is not None:
        order = np.asarray(explicit, dtype=np.int64)
        if sorted(order.tolist()) != list(range(num_classes)):
            raise ValueError(f"dataset.class_order must be a permutation of 0..{num_classes - 1}")
        return order
    rng = np.random.RandomState(seed)  # the legacy generator of np.random.seed(1993), as in iCaRL/PyCIL
    return rng.permutation(num_classes).astype(np.int64)


def remap_labels(labels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Original class ids to positions in ``order``: phase 1 holds labels 0..first-1."""
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return inverse[np.asarray(labels, dtype=np.int64)]


def phase_sizes(protocol: ProtocolConfig, num_classes: int) -> list[int]:
    """Number of new classes per phase.

    ``lfs``: N equal phases (learning from scratch); ``lfh``: half the classes first, then N
    equal phases (learning from half); ``custom``: ``first`` then ``increment`` per phase.
    """
    n = protocol.num_phases
    if protocol.kind == "lfs":
        first, inc, rest = num_classes // n, num_classes // n, n - 1
        if num_classes % n:
            raise ValueError(f"protocol.num_phases: {num_classes} classes do not split into {n} equal phases")
    elif protocol.kind == "lfh":
        first = num_classes // 2
        if (num_classes - first) % n:
            raise ValueError(
                f"protocol.num_phases: the {num_classes - first} classes after the first half "
                f"do not split into {n} equal phases"
            )
        inc, rest = (num_classes - first) // n, n
    else:
        if protocol.first is None or protocol.increment is None:
            raise ValueError("protocol.first and protocol.increment are required for kind 'custom'")
        first, inc = protocol.first, protocol.increment
        if first > num_classes or (num_classes - first) % inc:
            raise ValueError(
                f"protocol: first={first}, increment={inc} do not tile {num_classes} classes"
            )
        rest = (num_classes - first) // inc
    return [first] + [inc] * rest


@dataclass(frozen=True)
class PhaseContext:
    """Phase ``phase`` (1-based) of ``num_phases``: classes ``known..total-1`` are new."""

    phase: int
    num_phases: int
    known: int
    total: int

    @property
    def new_classes(self) -> range:
        return range(self.known, self.total)

    @property
    def is_first(self) -> bool:
        return self.phase == 1


def run_contexts(protocol: ProtocolConfig, num_classes: int) -> list[PhaseContext]:
    """The phases a run trains: all of :func:`phase_contexts`, or its first ``stop_after``."""
    return phase_contexts(protocol, num_classes)[: protocol.stop_after]


def phase_contexts(protocol: ProtocolConfig, num_classes: int) -> list[PhaseContext]:
    """The phases of a run, in order, with the (remapped) class ids new in each."""
    sizes = phase_sizes(protocol, num_classes)
    out, known = [], 0
    for i, size in enumerate(sizes):
        out.append(PhaseContext(i + 1, len(sizes), known, known + size))
        known += size
    return out
