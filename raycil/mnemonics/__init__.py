"""Mnemonics training (Liu et al., CVPR 2020) as a plug-in: learner side
:class:`~raycil.mnemonics.plugin.MnemonicsPlugin` (the exemplar-level bilevel optimisation, Eq. 8-10),
memory side :class:`~raycil.mnemonics.storage.TensorCodec` (the learned images, charged their
bytes), settings ``mnemonics``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raycil.mnemonics.config import MnemonicsConfig
from raycil.mnemonics.storage import TensorCodec
from raycil.plugin_spec import PluginSpec

if TYPE_CHECKING:
    from raycil.config import ExperimentConfig
    from raycil.mnemonics.plugin import MnemonicsPlugin


def learner(cfg: ExperimentConfig) -> MnemonicsPlugin:
    from raycil.mnemonics.plugin import MnemonicsPlugin  # loads where a learner is built

    return MnemonicsPlugin(cfg)


def codec(cfg: ExperimentConfig) -> TensorCodec:
    return TensorCodec(cfg.mnemonics.storage)


PLUGIN = PluginSpec("mnemonics", MnemonicsConfig, learner=learner, codec=codec)
