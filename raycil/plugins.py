"""The plug-in registry (one line per plug-in) and the assembly of a run's plug-in parts.

``raycil.config`` adds each plug-in's settings section to the experiment schema; a learner is
built with :func:`learner_plugins` and a memory with :func:`exemplar_codec` (:func:`make_learner`,
:func:`make_memory`; the LearnerActor subclasses the learner, a MemoryActor is built from
:func:`memory_args`). Nothing else names a plug-in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from raycil.cim import PLUGIN as CIM
from raycil.learner import Learner
from raycil.memory.codec import ExemplarCodec, RawCodec
from raycil.memory.service import MemoryService
from raycil.mfgr import PLUGIN as MFGR
from raycil.mnemonics import PLUGIN as MNEMONICS
from raycil.mrdc import PLUGIN as MRDC
from raycil.plugin_spec import PluginSpec
from raycil.seam import LearnerPlugin

if TYPE_CHECKING:
    from raycil.config import ExperimentConfig
    from raycil.data.config import DatasetConfig
    from raycil.memory.config import MemoryConfig

PLUGINS: tuple[PluginSpec, ...] = (
    CIM,
    MRDC,
    MNEMONICS,
    MFGR,
)


def active(cfg: ExperimentConfig) -> list[PluginSpec]:
    """The plug-ins the experiment turns on, in registry order."""
    return [p for p in PLUGINS if p.section(cfg).active]


def learner_plugins(cfg: ExperimentConfig) -> list[LearnerPlugin]:
    """The learner sides of the active plug-ins (the learner calls their hooks in this order)."""
    return [p.learner(cfg) for p in active(cfg) if p.learner is not None]


def exemplar_codec(cfg: ExperimentConfig) -> ExemplarCodec[Any]:
    """The memory's codec: that of the active plug-in which stores exemplars, else raw images."""
    for p in active(cfg):
        if p.codec is not None and p.section(cfg).stores_exemplars:
            return p.codec(cfg)
    return RawCodec()


def make_learner(cfg: ExperimentConfig, progress: Callable[..., Any] | None = None) -> Learner:
    """The run's learner with the active plug-ins' learner sides."""
    return Learner(cfg, learner_plugins(cfg), progress)


def memory_args(cfg: ExperimentConfig) -> tuple[DatasetConfig, MemoryConfig, int, ExemplarCodec[Any]]:
    """What the run's memory is built from (a MemoryActor gets just these, not the experiment):
    the dataset and memory sections, the seed and the config's codec."""
    return cfg.dataset, cfg.memory, cfg.seed, exemplar_codec(cfg)


def make_memory(cfg: ExperimentConfig) -> MemoryService:
    """The run's memory with the config's codec."""
    return MemoryService(*memory_args(cfg))
