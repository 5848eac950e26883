"""Exemplar memory: budget accounting in memory units, selection, storage through a codec."""
