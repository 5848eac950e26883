"""The MemoryActor: the :class:`~raycil.memory.service.MemoryService` as a trial's Ray actor,
in a module that imports neither torch nor the learner. It is built from the experiment's
``dataset`` and ``memory`` sections, its seed and the codec (``raycil.plugins.memory_args``),
never from the whole experiment, whose schema imports every method: so the actor's process
loads NumPy, OpenCV and its codec's module (CIM's codec imports torch), not the ~0.7 GB of
libraries and ~2.7 CPU-s of imports a learner needs (``benchmarks/bench_scaling.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ray

from raycil.memory.service import MemoryService

if TYPE_CHECKING:
    from raycil.data.config import DatasetConfig
    from raycil.memory.codec import ExemplarCodec
    from raycil.memory.config import MemoryConfig


class Placed:
    """Where an actor runs (for reports and tests of multi-node placement)."""

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()


class MemoryActor(MemoryService, Placed):
    def __init__(self, dataset: DatasetConfig, memory: MemoryConfig, seed: int, codec: ExemplarCodec[Any]):
        super().__init__(dataset, memory, seed, codec)
