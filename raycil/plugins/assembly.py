"""A run's learner and memory, built from an experiment with the active plug-ins' parts: the
learner with their learner sides (:func:`make_learner`), the memory with the codec of the one that
stores exemplars (:func:`make_memory`; a MemoryActor is built from :func:`memory_args`). The
learner, the memory and the phase loop name no plug-in: they get these parts handed to them.

Importable without torch: the learner (and torch) load inside :func:`make_learner`, so a trial's
driver that builds only its memory's arguments loads neither."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from raycil.memory.codec import ExemplarCodec, RawCodec
from raycil.memory.service import MemoryService
from raycil.plugins.registry import active

if TYPE_CHECKING:
    from raycil.data.config import DatasetConfig
    from raycil.experiment import Experiment
    from raycil.learner.learner import Learner
    from raycil.memory.config import MemoryConfig
    from raycil.plugins.seam import LearnerPlugin


def learner_plugins(cfg: Experiment) -> list[LearnerPlugin]:
    """The learner sides of the active plug-ins (the learner calls their hooks in this order)."""
    return [p.learner(p.section(cfg), cfg) for p in active(cfg) if p.learner is not None]


def exemplar_codec(cfg: Experiment) -> ExemplarCodec[Any]:
    """The memory's codec: that of the active plug-in which stores exemplars, else raw images."""
    for p in active(cfg):
        section = p.section(cfg)
        if p.codec is not None and section.stores_exemplars:
            return p.codec(section)
    return RawCodec()


def make_learner(cfg: Experiment, progress: Callable[..., Any] | None = None) -> Learner:
    """The run's learner with the active plug-ins' learner sides."""
    from raycil.learner.learner import Learner  # torch loads where a learner is built

    return Learner(cfg, learner_plugins(cfg), progress)


def memory_args(cfg: Experiment) -> tuple[DatasetConfig, MemoryConfig, int, ExemplarCodec[Any]]:
    """What the run's memory is built from (a MemoryActor gets just these, not the experiment):
    the dataset and memory sections, the seed and the config's codec."""
    return cfg.dataset, cfg.memory, cfg.seed, exemplar_codec(cfg)


def make_memory(cfg: Experiment) -> MemoryService:
    """The run's memory with the config's codec."""
    return MemoryService(*memory_args(cfg))
