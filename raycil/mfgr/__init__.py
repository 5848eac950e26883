"""MFGR, memory-free generative replay (Xin et al.) as a plug-in: learner side
:class:`~raycil.mfgr.plugin.MfgrPlugin` (knowledge recording, Eq. 4-7, and inheritance, Eq. 8);
the memory keeps the recorded generator's weights; settings ``mfgr``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raycil.mfgr.config import MfgrConfig
from raycil.plugin_spec import PluginSpec

if TYPE_CHECKING:
    from raycil.config import ExperimentConfig
    from raycil.mfgr.plugin import MfgrPlugin


def learner(cfg: ExperimentConfig) -> MfgrPlugin:
    from raycil.mfgr.plugin import MfgrPlugin  # the learner side's modules load where a learner is built

    return MfgrPlugin(cfg)


PLUGIN = PluginSpec("mfgr", MfgrConfig, learner=learner)
