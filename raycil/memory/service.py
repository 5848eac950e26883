"""The memory side of a run: what a MemoryActor hosts (and ``raycil.run`` uses in-process).

It reads the new classes' training images itself (the dataset is deterministic from the
config), so the learner sends only each class's :class:`~raycil.memory.codec.Candidates`
(embeddings and codec arguments), never images, across actors. It is built with the codec the
config chooses (``raycil.plugins.assembly.exemplar_codec``) and names no plug-in.

Besides exemplars it may keep one generator's weights (MFGR's memory: what a plug-in recorded
from the old network), serve them to the learner at the next phase, checkpoint them, and report
their size beside the exemplars' (``generator_bytes``; ``generator_units``: the same in memory
units, bytes over those of one network input image, H x W x 3 uint8: the dataset's fixed size, or
224 x 224 for file images).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from raycil.data.config import input_size
from raycil.data.protocol import PhaseContext
from raycil.data.registry import load_dataset
from raycil.memory.budget import Budget
from raycil.memory.codec import Candidates, ExemplarCodec
from raycil.memory.store import ExemplarMemory, Exemplars
from raycil.seeding import phase_seed

if TYPE_CHECKING:
    import torch

    from raycil.data.config import DatasetConfig
    from raycil.memory.config import MemoryConfig

# a generator's weights (its state dict), as the memory keeps them: torch tensors, which only a
# plug-in that records a generator (MFGR) puts here, so the memory itself never imports torch
GeneratorState = dict[str, "torch.Tensor"]


class MemoryService:
    """Built from the experiment's ``dataset`` and ``memory`` sections, its seed and the codec
    (not the whole experiment; see :mod:`raycil.sweep.actors`)."""

    def __init__(self, dataset: DatasetConfig, memory: MemoryConfig, seed: int, codec: ExemplarCodec[Any]):
        self.dataset, self.seed = dataset, seed
        self.data = load_dataset(dataset)
        self.memory = ExemplarMemory(Budget(memory.mode, memory.budget), memory.selection, codec)
        self.generator_state: GeneratorState | None = None

    def needs_features(self) -> bool:
        """Herding ranks candidates by their embeddings; random selection needs none."""
        return self.memory.selection == "herding"

    def update(self, ctx: PhaseContext, candidates: Mapping[int, Candidates[Any]]) -> None:
        """Shrink old classes to their new share, then select and store the new classes'
        (as many as the codec fits in a class's share: "many-shot" for compressed exemplars)."""
        self.memory.shrink(ctx.total)
        share = self.memory.budget.per_class(ctx.total)
        rng = np.random.default_rng(phase_seed(self.seed, ctx.phase))
        for c in ctx.new_classes:
            images = self.data.train.of_classes([c]).images
            self.memory.add_class(c, images, candidates.get(c, Candidates(None)), share, rng)

    def rewrite(self, exemplars: Exemplars) -> None:
        """Store ``exemplars`` (as :meth:`exemplars` ordered them, e.g. optimised by a plug-in)
        in place of what the memory holds, re-encoded by its codec."""
        self.memory.rewrite(*exemplars)

    def exemplars(self) -> Exemplars:
        return self.memory.exemplar_arrays()

    def keep_generator(self, state: GeneratorState | None) -> None:
        """Keep ``state`` (a recorded generator's weights) in place of the one held."""
        self.generator_state = state

    def generator(self) -> GeneratorState | None:
        return self.generator_state

    def generator_stats(self) -> dict[str, float]:
        if self.generator_state is None:
            return {}
        nbytes = sum(t.numel() * t.element_size() for t in self.generator_state.values())
        side = input_size(self.dataset)
        return {"generator_bytes": float(nbytes), "generator_units": nbytes / (3 * side ** 2)}

    def stats(self) -> dict[str, float]:
        counts = list(self.memory.counts().values()) or [0]
        return {
            "memory_units": self.memory.units_used,
            "memory_bytes": float(self.memory.nbytes),
            "exemplars": float(len(self.memory)),
            "exemplars_per_class": float(np.mean(counts)),
            "exemplars_per_class_min": float(np.min(counts)),
            "exemplars_per_class_max": float(np.max(counts)),
            **self.memory.codec.stats(self.memory.stored),
            **self.generator_stats(),
        }

    def state(self) -> dict[str, Any]:
        return {**self.memory.state(), "generator": self.generator_state}

    def load_state(self, state: dict[str, Any]) -> None:
        self.memory.load_state(state)
        self.generator_state = state.get("generator")
