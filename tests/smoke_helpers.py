"""Shared test helpers: smoke-sized configs on the built-in generated data."""

from __future__ import annotations

from typing import Any

from raycil.config import ExperimentConfig, build_config
from raycil.data.protocol import PhaseContext
from raycil.learner.learner import Learner
from raycil.memory.service import MemoryService
from raycil.plugins.assembly import make_learner, make_memory

SMOKE: dict[str, Any] = {
    "seed": 0,
    "device": "cpu",
    "dataset": {"name": "synthetic", "num_classes": 6, "image_size": 32, "train_per_class": 20,
                "test_per_class": 10},
    "protocol": {"kind": "lfs", "num_phases": 3},
    "memory": {"mode": "fixed", "budget": 24, "selection": "herding"},
    "model": {"backbone": "resnet20"},
    "train": {"epochs_first": 1, "epochs": 1, "batch_size": 16, "progress": False},
}


def smoke_config(**sections: dict[str, Any]) -> ExperimentConfig:
    """The smoke experiment with some sections updated, e.g. ``method={"name": "icarl"}``."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in SMOKE.items()}
    for key, value in sections.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return build_config(data)


def first_phase(cfg: ExperimentConfig) -> tuple[Learner, MemoryService, PhaseContext]:
    """A learner trained on a first phase of 2 classes and the memory updated after it."""
    learner, memory = make_learner(cfg), make_memory(cfg)
    ctx = PhaseContext(1, 3, 0, 2)
    learner.train_phase(ctx, memory.exemplars())
    memory.update(ctx, learner.exemplar_candidates(ctx, True))
    return learner, memory, ctx
