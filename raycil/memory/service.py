"""The memory side of a run: what a MemoryActor hosts (and ``raycil.run`` uses in-process).

It reads the new classes' training images itself (the dataset is deterministic from the
config), so the learner sends only embeddings, never images, across actors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from raycil.config import ExperimentConfig
from raycil.data.registry import load_dataset
from raycil.memory.budget import Budget
from raycil.memory.store import ExemplarMemory
from raycil.methods import PhaseContext
from raycil.seeding import phase_seed


class MemoryService:
    def __init__(self, cfg: ExperimentConfig):
        self.cfg = cfg
        self.data = load_dataset(cfg.dataset)
        self.memory = ExemplarMemory(Budget(cfg.memory.mode, cfg.memory.budget), cfg.memory.selection)

    def needs_features_for(self, ctx: PhaseContext) -> bool:
        """Herding ranks candidates by their embeddings; random selection needs none."""
        return self.memory.selection == "herding"

    def update(self, ctx: PhaseContext, features: dict[int, np.ndarray] | None) -> None:
        """Shrink old classes to their new share, then select and store the new classes'."""
        self.memory.shrink(ctx.total)
        share = self.memory.budget.per_class(ctx.total)
        rng = np.random.default_rng(phase_seed(self.cfg.seed, ctx.phase))
        for c in ctx.new_classes:
            images = self.data.train.of_classes([c]).images
            self.memory.add_class(c, images, None if features is None else features[c], share, rng)

    def exemplars(self) -> tuple[Any, np.ndarray]:
        return self.memory.exemplar_arrays()

    def stats(self) -> dict[str, float]:
        counts = list(self.memory.counts().values()) or [0]
        return {
            "memory_units": self.memory.units_used,
            "memory_bytes": float(self.memory.nbytes),
            "exemplars": float(len(self.memory)),
            "exemplars_per_class": float(np.mean(counts)),
            "exemplars_per_class_min": float(np.min(counts)),
            "exemplars_per_class_max": float(np.max(counts)),
        }

    def state(self) -> dict[str, Any]:
        return self.memory.state()

    def load_state(self, state: dict[str, Any]) -> None:
        self.memory.load_state(state)
