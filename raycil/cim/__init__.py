"""CIM (Luo et al., CVPR 2023) as a plug-in: learner side :class:`~raycil.cim.plugin.CimPlugin`
(artifact augmentation, mask learning, boxed candidates), memory side
:class:`~raycil.cim.storage.CimCodec` (compressed exemplars), settings ``cim``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raycil.cim.config import CimConfig
from raycil.cim.storage import CimCodec
from raycil.plugin_spec import PluginSpec

if TYPE_CHECKING:
    from raycil.cim.plugin import CimPlugin
    from raycil.config import ExperimentConfig


def learner(cfg: ExperimentConfig) -> CimPlugin:
    from raycil.cim.plugin import CimPlugin  # the learner side's modules load where a learner is built

    return CimPlugin(cfg)


def codec(cfg: ExperimentConfig) -> CimCodec:
    return CimCodec(cfg.cim.eta, cfg.cim.eta_inner)


PLUGIN = PluginSpec("cim", CimConfig, learner=learner, codec=codec)
