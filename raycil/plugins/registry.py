"""The plug-in registry: one line per plug-in, importable without torch (each package exports its
:class:`~raycil.plugins.spec.PluginSpec`; its learner side loads only where a learner is built).
The experiment schema adds each plug-in's settings section from it
(:mod:`raycil.config.composed`); :mod:`raycil.plugins.assembly` builds a run's parts from it.
Nothing else names a plug-in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raycil.plugins.cim import PLUGIN as CIM
from raycil.plugins.mfgr import PLUGIN as MFGR
from raycil.plugins.mnemonics import PLUGIN as MNEMONICS
from raycil.plugins.mrdc import PLUGIN as MRDC
from raycil.plugins.spec import PluginSpec

if TYPE_CHECKING:
    from raycil.experiment import Experiment

PLUGINS: tuple[PluginSpec, ...] = (
    CIM,
    MRDC,
    MNEMONICS,
    MFGR,
)


def active(cfg: Experiment) -> list[PluginSpec]:
    """The plug-ins the experiment turns on, in registry order."""
    return [p for p in PLUGINS if p.section(cfg).active]
