"""Seeding: every run seeds Python, NumPy and torch from its config; each phase reseeds from
(seed, phase), so a run resumed at phase k draws exactly what an uninterrupted run draws.

torch is imported by the functions that use it: :func:`phase_seed` is all the memory side needs,
and a MemoryActor loads no torch (see :mod:`raycil.sweep.actors`)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

from raycil.schema import ConfigError

if TYPE_CHECKING:
    import torch


def phase_seed(seed: int, phase: int) -> int:
    return int(np.random.SeedSequence([seed, phase]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (and make torch's kernels deterministic where it can)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False


def resolve_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda', but torch finds no CUDA device on this machine; use device "
                          "auto (CUDA when there is one) or cpu")
    return torch.device(name)
