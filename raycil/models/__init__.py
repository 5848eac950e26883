"""Networks: backbones (:mod:`~raycil.models.backbones`), the incremental network and its growing
head (:mod:`~raycil.models.network`), cosine heads, expandable multi-backbone networks, activation
slots, weight transfer, and the ``model`` settings (:mod:`~raycil.models.config`, importable
without torch)."""
