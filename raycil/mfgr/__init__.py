"""MFGR, memory-free generative replay (Xin et al.) as a plug-in: learner side
:class:`~raycil.mfgr.plugin.MfgrPlugin` (knowledge recording, Eq. 4-7, and inheritance, Eq. 8);
the memory keeps the recorded generator's weights; settings ``mfgr``."""

from raycil.mfgr.config import MfgrConfig
from raycil.mfgr.plugin import MfgrPlugin
from raycil.seam import PluginSpec

PLUGIN = PluginSpec("mfgr", MfgrConfig, learner=MfgrPlugin)
