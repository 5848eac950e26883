"""MRDC (Wang et al., ICLR 2022, "Memory Replay with Data Compression") as a plug-in: learner side
:class:`~raycil.plugins.mrdc.plugin.MrdcPlugin` (the phase's JPEG quality, candidates at that quality),
memory side :class:`~raycil.plugins.mrdc.jpeg.JpegCodec` (exemplars as JPEG bytes), settings ``mrdc``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raycil.plugins.mrdc.config import MrdcConfig
from raycil.plugins.mrdc.jpeg import JpegCodec
from raycil.plugins.spec import PluginSpec

if TYPE_CHECKING:
    from raycil.experiment import Experiment
    from raycil.plugins.mrdc.plugin import MrdcPlugin


def learner(settings: MrdcConfig, cfg: Experiment) -> MrdcPlugin:
    from raycil.plugins.mrdc.plugin import (
        MrdcPlugin,  # the learner side's modules load where a learner is built
    )

    return MrdcPlugin(settings, cfg)


def codec(settings: MrdcConfig) -> JpegCodec:
    return JpegCodec()


PLUGIN = PluginSpec("mrdc", MrdcConfig, learner=learner, codec=codec)
