"""Mnemonics training (Liu et al., CVPR 2020) as a plug-in: learner side
:class:`~raycil.plugins.mnemonics.plugin.MnemonicsPlugin` (the exemplar-level bilevel optimisation, Eq. 8-10),
memory side :class:`~raycil.plugins.mnemonics.storage.TensorCodec` (the learned images, charged their
bytes), settings ``mnemonics``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raycil.plugins.mnemonics.config import MnemonicsConfig
from raycil.plugins.mnemonics.storage import TensorCodec
from raycil.plugins.spec import PluginSpec

if TYPE_CHECKING:
    from raycil.experiment import Experiment
    from raycil.plugins.mnemonics.plugin import MnemonicsPlugin


def learner(settings: MnemonicsConfig, cfg: Experiment) -> MnemonicsPlugin:
    from raycil.plugins.mnemonics.plugin import MnemonicsPlugin  # loads where a learner is built

    return MnemonicsPlugin(settings, cfg)


def codec(settings: MnemonicsConfig) -> TensorCodec:
    return TensorCodec(settings.storage)


PLUGIN = PluginSpec("mnemonics", MnemonicsConfig, learner=learner, codec=codec)
