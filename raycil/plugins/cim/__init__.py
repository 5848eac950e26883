"""CIM (Luo et al., CVPR 2023) as a plug-in: learner side :class:`~raycil.plugins.cim.plugin.CimPlugin`
(artifact augmentation, mask learning, boxed candidates), memory side
:class:`~raycil.plugins.cim.storage.CimCodec` (compressed exemplars), settings ``cim``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raycil.plugins.cim.config import CimConfig
from raycil.plugins.cim.storage import CimCodec
from raycil.plugins.spec import PluginSpec

if TYPE_CHECKING:
    from raycil.experiment import Experiment
    from raycil.plugins.cim.plugin import CimPlugin


def learner(settings: CimConfig, cfg: Experiment) -> CimPlugin:
    from raycil.plugins.cim.plugin import (
        CimPlugin,  # the learner side's modules load where a learner is built
    )

    return CimPlugin(settings, cfg)


def codec(settings: CimConfig) -> CimCodec:
    return CimCodec(settings.eta, settings.eta_inner)


PLUGIN = PluginSpec("cim", CimConfig, learner=learner, codec=codec)
