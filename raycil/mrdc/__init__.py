"""MRDC (Wang et al., ICLR 2022, "Memory Replay with Data Compression") as a plug-in: learner side
:class:`~raycil.mrdc.plugin.MrdcPlugin` (the phase's JPEG quality, candidates at that quality),
memory side :class:`~raycil.mrdc.jpeg.JpegCodec` (exemplars as JPEG bytes), settings ``mrdc``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from raycil.mrdc.config import MrdcConfig
from raycil.mrdc.jpeg import JpegCodec
from raycil.plugin_spec import PluginSpec

if TYPE_CHECKING:
    from raycil.config import ExperimentConfig
    from raycil.mrdc.plugin import MrdcPlugin


def learner(cfg: ExperimentConfig) -> MrdcPlugin:
    from raycil.mrdc.plugin import MrdcPlugin  # the learner side's modules load where a learner is built

    return MrdcPlugin(cfg)


def codec(cfg: ExperimentConfig) -> JpegCodec:
    return JpegCodec()


PLUGIN = PluginSpec("mrdc", MrdcConfig, learner=learner, codec=codec)
