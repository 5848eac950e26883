"""The one inference loop: a function of every batch of a source, the model in eval mode and no
gradients. Embeddings, evaluation scores, class activation maps and accuracies all run on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from raycil.data.batches import BatchSource

T = TypeVar("T")


@torch.no_grad()
def infer(model: nn.Module, source: BatchSource, batch_size: int,
          fn: Callable[[torch.Tensor, torch.Tensor], T]) -> list[T]:
    """``fn(x, y)`` for every batch of ``source`` in order (no shuffling), ``model`` in eval mode."""
    model.eval()
    return [fn(x, y) for x, y in source.epoch(batch_size, shuffle=False)]
