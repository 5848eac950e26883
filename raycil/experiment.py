"""The experiment as the parts of a run read it: the :class:`Experiment` protocol.

Methods, plug-ins, the learner and the phase loop are typed against this protocol, not against
the schema that implements it (:class:`raycil.config.composed.ExperimentConfig`, composed at the
top from every section and registry), so none of them imports the schema and the schema imports
none of them. Each section is declared in the leaf module of its concern: ``dataset`` in
:mod:`raycil.data.config`, ``protocol`` in :mod:`raycil.data.protocol`, ``memory`` in
:mod:`raycil.memory.config`, ``model`` in :mod:`raycil.models.config`, ``train`` in
:mod:`raycil.learner.config`, the method's shared knobs in :mod:`raycil.methods.common`. A method
gets its own section (``method.<name>``) and a plug-in its own (``cim``, ...) handed to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from raycil.data.config import DatasetConfig
    from raycil.data.protocol import ProtocolConfig
    from raycil.learner.config import TrainConfig
    from raycil.memory.config import MemoryConfig
    from raycil.methods.common import MethodCommon
    from raycil.models.config import ModelConfig


class Experiment(Protocol):
    """One run's settings: its core sections, the method section's shared knobs (``method.name``
    among them) and what follows from them."""

    name: str
    seed: int
    device: str
    threads: int
    dataset: DatasetConfig
    protocol: ProtocolConfig
    memory: MemoryConfig
    model: ModelConfig
    method: MethodCommon
    train: TrainConfig

    @property
    def num_classes(self) -> int:
        """The dataset's classes (a file dataset's own count)."""
        ...

    @property
    def keeps_memory(self) -> bool:
        """The method trains on D_i ∪ memory and the memory may hold exemplars."""
        ...

    @property
    def refines_exemplars(self) -> bool:
        """An active plug-in rewrites the stored exemplars after each memory update."""
        ...

    @property
    def records_generator(self) -> bool:
        """An active plug-in records a generator for the memory after each phase."""
        ...
