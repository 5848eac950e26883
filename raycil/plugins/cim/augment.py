"""Artifact augmentation (CIM §4.1 "Compression Artifacts", supplementary §1): each epoch a
random share of D_i is replaced by its compressed version (CAM boxes of the current model,
ratio η), so the model learns to ignore the resolution step at box edges. The share starts at 0
and grows by ``artifact_step`` every ``artifact_step_epochs``; boxes are refreshed every
``artifact_refresh_epochs`` -- both periods given for ``artifact_of_epochs`` (the paper's 170)
and rescaled to the phase's epoch count, or (``artifact_rescale: false``) kept in epochs, as the
paper counts them in every phase."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from raycil.learner.batches import BatchSource
from raycil.plugins.cim.boxes import boxes_from_maps, class_activation_maps, image_shapes
from raycil.plugins.cim.compression import Box, compress
from raycil.plugins.cim.config import CimConfig

if TYPE_CHECKING:
    from raycil.plugins.seam import LearnerHost


def rescaled_period(period: int, of_epochs: int, epochs: int) -> int:
    """A period of ``period`` epochs out of ``of_epochs``, for a phase of ``epochs`` epochs."""
    return max(1, round(period * epochs / of_epochs))


def artifact_period(period: int, epochs: int, cfg: CimConfig) -> int:
    """One of the augmentation's periods in a phase of ``epochs`` epochs: rescaled from
    ``artifact_of_epochs``, or as given with ``artifact_rescale: false``."""
    return rescaled_period(period, cfg.artifact_of_epochs, epochs) if cfg.artifact_rescale else period


def compressed_share(epoch: int, epochs: int, cfg: CimConfig) -> float:
    """Share of D_i compressed in ``epoch`` (0-based): 0, then +step every (rescaled) period."""
    period = artifact_period(cfg.artifact_step_epochs, epochs, cfg)
    return min(1.0, cfg.artifact_step * (epoch // period))


class ArtifactAugmentation:
    """Swaps a growing random share of the first ``len(labels)`` images of a training source
    (D_i; exemplars, if joined after them, are left alone) for their compressed versions."""

    def __init__(self, cfg: CimConfig, images: Any, labels: np.ndarray, rng: np.random.Generator):
        self.cfg, self.images, self.labels, self.rng = cfg, images, labels, rng
        self.shapes = image_shapes(images)
        self.boxes: list[Box | None] = []

    def on_epoch_start(self, host: LearnerHost, source: BatchSource, epoch: int, epochs: int) -> None:
        refresh = artifact_period(self.cfg.artifact_refresh_epochs, epochs, self.cfg)
        share = compressed_share(epoch, epochs, self.cfg)
        if share > 0 and (not self.boxes or epoch % refresh == 0):
            self.refresh_boxes(host)
            host.train_mode()
        n = len(self.labels)
        chosen = self.rng.choice(n, size=int(round(share * n)), replace=False) if share > 0 else []
        source.set_overrides({int(i): compress(self.images[int(i)], self.boxes[int(i)], self.cfg.eta)
                              for i in chosen})

    def refresh_boxes(self, host: LearnerHost) -> None:
        """CAM boxes of D_i from the CIL model as it is now (one pass, eval mode)."""
        maps = class_activation_maps(host, self.images, self.labels)
        self.boxes = boxes_from_maps(maps, self.cfg.tau, self.shapes)
