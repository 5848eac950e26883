"""MFGR, memory-free generative replay (Xin et al.) as a plug-in: learner side
:class:`~raycil.plugins.mfgr.plugin.MfgrPlugin` (knowledge recording, Eq. 4-7, and inheritance, Eq. 8);
the memory keeps the recorded generator's weights; settings ``mfgr``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raycil.plugins.mfgr.config import MfgrConfig
from raycil.plugins.spec import PluginSpec

if TYPE_CHECKING:
    from raycil.experiment import Experiment
    from raycil.plugins.mfgr.plugin import MfgrPlugin


def learner(settings: MfgrConfig, cfg: Experiment) -> MfgrPlugin:
    from raycil.plugins.mfgr.plugin import (
        MfgrPlugin,  # the learner side's modules load where a learner is built
    )

    return MfgrPlugin(settings, cfg)


PLUGIN = PluginSpec("mfgr", MfgrConfig, learner=learner)
