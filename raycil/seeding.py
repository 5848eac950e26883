"""Seeding: every run seeds Python, NumPy and torch from its config; each phase reseeds from
(seed, phase), so a run resumed at phase k draws exactly what an uninterrupted run draws."""

from __future__ import annotations

import random

import numpy as np
import torch


def phase_seed(seed: int, phase: int) -> int:
    return int(np.random.SeedSequence([seed, phase]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (and make torch's kernels deterministic where it can)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: 'cuda' was asked for but no CUDA device is available")
    return torch.device(name)
