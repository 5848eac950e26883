"""Joint training: the upper bound that trains on all data of the seen classes, no memory limit
(its registry line: ``uses_memory=False, trains_on_all_seen=True``)."""

from raycil.methods.base import Method


class Joint(Method):
    """Plain cross-entropy over all seen classes, on every image of them."""
