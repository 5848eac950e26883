"""Exemplar memory: budget accounting in memory units, selection and storage."""

from raycil.memory.budget import Budget
from raycil.memory.selection import herding_order, random_order
from raycil.memory.store import ExemplarMemory, PlainExemplar

__all__ = ["Budget", "ExemplarMemory", "PlainExemplar", "herding_order", "random_order"]
