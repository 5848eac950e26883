"""What the config schema and the plug-in registry need of a plug-in, importable without torch:
its settings base (:class:`PluginSettings`) and its registry entry (:class:`PluginSpec`). A
plug-in package imports its learner side (torch) only inside its ``learner`` factory and its
codec's module (NumPy / OpenCV) for ``codec``, so neither the schema nor a MemoryActor that
unpickles a codec loads learner code (see :mod:`raycil.plugins.seam` for the learner's seam)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raycil.schema import Strict

if TYPE_CHECKING:
    from raycil.experiment import Experiment
    from raycil.memory.codec import ExemplarCodec
    from raycil.plugins.seam import LearnerPlugin


class PluginSettings(Strict):
    """A plug-in's config section. ``active``: the experiment uses the plug-in at all;
    ``stores_exemplars``: its codec replaces the memory's (one plug-in at a time);
    ``refines_exemplars``: its learner side rewrites the stored exemplars each phase;
    ``records_generator``: its learner side records a generator for the memory each phase."""

    @property
    def active(self) -> bool:
        raise NotImplementedError

    @property
    def stores_exemplars(self) -> bool:
        return False

    @property
    def refines_exemplars(self) -> bool:
        """The learner side rewrites the stored exemplars each phase (``refine_exemplars``)."""
        return False

    @property
    def records_generator(self) -> bool:
        """The learner side records a generator after each phase (``record_generator``)."""
        return False

    def check(self, cfg: Experiment) -> None:
        """Raise ValueError (one line naming the field) for settings the experiment cannot run."""


@dataclass(frozen=True)
class PluginSpec:
    """A plug-in as the registry knows it: its config section ``name`` with schema ``settings``,
    the factory of its learner side (given its section and the experiment) and that of its codec
    (given its section alone: what the memory stores depends on nothing else)."""

    name: str
    settings: type[PluginSettings]
    learner: Callable[[Any, Experiment], LearnerPlugin] | None = None
    codec: Callable[[Any], ExemplarCodec[Any]] | None = None

    def section(self, cfg: Experiment) -> PluginSettings:
        """The experiment's settings section of this plug-in."""
        return getattr(cfg, self.name)  # type: ignore[no-any-return]
