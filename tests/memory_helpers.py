"""Shared by the memory tests: drive an exemplar memory through phases of new classes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from raycil.memory.store import ExemplarMemory


def fill_phases(memory: ExemplarMemory, phases: list[int],
                add: Callable[[int, float], None]) -> Iterator[int]:
    """For each phase (its number of new classes): shrink old classes to their new share, then
    ``add(class_id, share)`` every new class; yields the number of classes seen so far."""
    seen = 0
    for size in phases:
        seen += size
        memory.shrink(seen)
        share = memory.budget.per_class(seen)
        for c in range(seen - size, seen):
            add(c, share)
        yield seen
