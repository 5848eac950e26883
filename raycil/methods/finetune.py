"""FT: fine-tuning on D_i ∪ memory with cross-entropy over all seen classes (the baseline of
SS-IL §3 and of every CIL paper's tables)."""

from raycil.methods.base import Method


class FineTune(Method):
    """Plain cross-entropy; everything is inherited from :class:`Method`."""

    name = "finetune"
