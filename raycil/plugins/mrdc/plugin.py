"""The learner side of the MRDC plug-in (Wang et al., ICLR 2022): it picks the phase's JPEG
quality (fixed, or by the rule of :mod:`raycil.plugins.mrdc.quality`) and describes the new classes'
candidates as the memory will store them: herding ranks the embeddings of their JPEG-decoded
images, and every candidate carries the quality (the :class:`~raycil.plugins.mrdc.jpeg.JpegCodec`
argument). Training is untouched: MRDC changes what the memory holds, not how a phase learns.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from raycil.data.imageset import decoded, stack_images
from raycil.data.protocol import PhaseContext
from raycil.memory.budget import Budget
from raycil.memory.codec import Candidates
from raycil.memory.selection import herding_order
from raycil.plugins.mrdc.config import MrdcConfig
from raycil.plugins.mrdc.jpeg import JpegExemplar, jpeg_roundtrip
from raycil.plugins.mrdc.quality import choose_quality, set_limit, set_size, volume_ratio
from raycil.plugins.seam import LearnerHost, LearnerPlugin, PhaseCandidates

if TYPE_CHECKING:
    from raycil.experiment import Experiment


def roundtrip_all(images: Any, quality: int) -> Any:
    return stack_images([jpeg_roundtrip(im, quality) for im in images])


class MrdcPlugin(LearnerPlugin):
    """The phase's JPEG quality and the new classes' candidates at that quality. Per phase it
    reports ``jpeg_quality`` and, with the rule, ``mrdc_r`` (R_q at the chosen quality),
    ``mrdc_r_q<q>`` for every quality of the grid, and ``mrdc_set_size`` / ``mrdc_set_fraction``
    (the measured sets' mean size at the chosen quality, and that over the feature dimension)."""

    def __init__(self, settings: MrdcConfig, cfg: Experiment):
        self.settings = settings
        self.seed = cfg.seed
        self.budget = Budget(cfg.memory.mode, cfg.memory.budget)
        self.last_stats: dict[str, float] = {}
        self.last_sizes: dict[str, float] = {}

    def rule_sets(self, host: LearnerHost, ctx: PhaseContext) -> list[tuple[list[Any], np.ndarray]]:
        """Per new class, the candidates the rule measures (up to ``rule_samples``, best first:
        herding order of their embeddings, or a seeded random order) and their embeddings."""
        s = self.settings
        rng = np.random.default_rng([self.seed, ctx.phase, 37])
        out = []
        for cls in ctx.new_classes:
            images = list(decoded(host.data.train.of_classes([cls]).images))
            if s.rule_selection == "herding":
                feats = host.embed(stack_images(images)).cpu().numpy()
                picks = list(itertools.islice(herding_order(feats), s.rule_samples))
                out.append(([images[i] for i in picks], feats[picks]))
            else:
                sample = [images[i] for i in rng.permutation(len(images))[: s.rule_samples]]
                out.append((sample, host.embed(stack_images(sample)).cpu().numpy()))
        return out

    def pick_quality(self, host: LearnerHost, ctx: PhaseContext) -> tuple[int, dict[int, float]]:
        """MRDC §4.2 on the new classes: R_q for every quality of the grid, and the chosen q
        (the sets' mean size at it, absolute and over the feature dimension, in ``last_sizes``)."""
        s = self.settings
        share = self.budget.per_class(ctx.total)
        sets = self.rule_sets(host, ctx)
        dim = sets[0][1].shape[1]
        limit = set_limit(dim, s.max_set_fraction)
        ratios, sizes = {}, {}
        for q in s.quality_grid:
            orig_sets, comp_sets, m_q = [], [], []
            for sample, feats in sets:
                units = np.mean([JpegExemplar.encode(im, q).units for im in sample])
                m = set_size(share, float(units), len(sample), limit)
                comp_sets.append(host.embed(roundtrip_all(sample[:m], q)).cpu().numpy())
                orig_sets.append(feats[:m])
                m_q.append(m)
            ratios[q], sizes[q] = volume_ratio(orig_sets, comp_sets), float(np.mean(m_q))
        quality = choose_quality(ratios, s.tolerance)
        self.last_sizes = {"mrdc_set_size": sizes[quality], "mrdc_set_fraction": sizes[quality] / dim}
        return quality, ratios

    def candidates(self, host: LearnerHost, ctx: PhaseContext, with_features: bool) -> PhaseCandidates:
        """Per new class: the phase's quality for every candidate and, for herding, the
        embeddings of the candidates after a JPEG round trip at that quality."""
        s = self.settings
        if s.quality == "auto":
            quality, ratios = self.pick_quality(host, ctx)
            self.last_stats = {"jpeg_quality": float(quality), "mrdc_r": ratios[quality], **self.last_sizes,
                               **{f"mrdc_r_q{q}": r for q, r in ratios.items()}}
        else:
            quality = int(s.quality)
            self.last_stats = {"jpeg_quality": float(quality)}
        out: dict[int, Candidates[int]] = {}
        for cls in ctx.new_classes:
            images = decoded(host.data.train.of_classes([cls]).images)
            feats = host.embed(roundtrip_all(images, quality)).cpu().numpy() if with_features else None
            out[cls] = Candidates(feats, [quality] * len(images))
        return out

    def stats(self) -> dict[str, float]:
        return self.last_stats
