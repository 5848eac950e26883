"""The one inference loop: a function of every batch of a source, the model in eval mode and no
gradients. Embeddings, evaluation scores, class activation maps and accuracies all run on it.

``train.precision`` lives here too: :func:`autocast` is the context the training loop
(``Learner.fit``) and this loop run their forwards in (nothing at all for fp32, so fp32 runs are
the same to the last digit as before precision existed), and :func:`check_precision` refuses fp16
on a CPU."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import torch
from torch import nn

from raycil.learner.batches import BatchSource
from raycil.learner.config import FP16_ON_CPU
from raycil.schema import ConfigError

T = TypeVar("T")

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str) -> AbstractContextManager[Any]:
    """``torch.autocast`` on ``device``'s type at ``precision``'s dtype; fp32: no context at all."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[precision])


def check_precision(device: torch.device, precision: str) -> None:
    """fp16 only on CUDA (the config refuses ``device: cpu`` with fp16; this catches ``auto``)."""
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(f"{FP16_ON_CPU} (device resolved to {device.type})")


def as_fp32(out: Any) -> Any:
    """``out`` with every bf16 / fp16 tensor in it (also inside tuples, lists, dicts) as float32, so
    what a forward under autocast returns reads like an fp32 one's (NumPy has no bfloat16)."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.dtype in (torch.bfloat16, torch.float16) else out
    if type(out) in (tuple, list):
        return type(out)(as_fp32(o) for o in out)
    if isinstance(out, dict):
        return {k: as_fp32(v) for k, v in out.items()}
    return out


@torch.no_grad()
def infer(model: nn.Module, source: BatchSource, batch_size: int,
          fn: Callable[[torch.Tensor, torch.Tensor], T], precision: str = "fp32") -> list[T]:
    """``fn(x, y)`` for every batch of ``source`` in order (no shuffling), ``model`` in eval mode;
    with bf16 / fp16, ``fn`` runs under :func:`autocast` and its tensors come back as float32."""
    model.eval()
    if precision == "fp32":
        return [fn(x, y) for x, y in source.epoch(batch_size, shuffle=False)]
    out = []
    for x, y in source.epoch(batch_size, shuffle=False):
        with autocast(source.device, precision):
            result = fn(x, y)
        out.append(as_fp32(result))
    return out
