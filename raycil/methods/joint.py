"""Joint training: the upper bound that trains on all data of the seen classes, no memory limit."""

from raycil.methods.base import Method


class Joint(Method):
    name = "joint"
    uses_memory = False
    trains_on_all_seen = True
