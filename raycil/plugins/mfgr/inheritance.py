"""Knowledge inheritance (Xin et al. §5.3, Eq. 8): every training step also distils the old
network's predictions on generated old-class images into the new network, λ4 ℓ_gkd with
λ4 = t / (t + 1) at incremental step t."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from raycil.methods.losses import kd_loss
from raycil.plugins.mfgr.generator import Generator
from raycil.plugins.mfgr.recording import latent
from raycil.plugins.seam import LearnerHost, TrainingHooks


def balanced_pick(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` items taken round-robin over the classes in ``labels`` (each class's
    first item, then each one's second, ...): equal counts per class as far as the pool allows."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(labels)) - starts
    return np.lexsort((labels, rank))[:n]


class GeneratedReplay(TrainingHooks):
    """Per step: ``ratio`` x (batch size) generated images, picked class-balanced (by the old
    network's arg-max) from a pool ``pool`` times larger, and the term λ4 ℓ_gkd: KD at
    ``temperature`` between the new and the old network's logits over the ``known`` classes."""

    def __init__(self, host: LearnerHost, generator: Generator, teacher: nn.Module, known: int,
                 weight: float, ratio: float, pool: float, temperature: float, rng: torch.Generator):
        self.host, self.generator, self.teacher = host, generator, teacher
        self.known, self.weight, self.ratio, self.pool = known, weight, ratio, pool
        self.temperature, self.rng = temperature, rng
        self.generated = 0
        self.per_class_spread: list[float] = []

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n generated images and the old network's logits on them, balanced over the old classes."""
        with torch.no_grad():
            images = self.generator(latent(self.generator, math.ceil(self.pool * n), self.rng,
                                           self.host.device))
            logits = self.teacher(images)["logits"][:, : self.known]
        labels = logits.argmax(1).cpu().numpy()
        pick = balanced_pick(labels, n)
        counts = np.bincount(labels[pick], minlength=self.known)
        self.per_class_spread.append(float(counts.max() - counts.min()))
        idx = torch.as_tensor(pick, device=images.device)
        return images[idx], logits[idx]

    def extra_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n = max(1, round(self.ratio * len(y)))
        images, old_logits = self.sample(n)
        self.generated += n
        logits = self.host.model(images)["logits"][:, : self.known]
        return self.weight * kd_loss(logits, old_logits, self.temperature)
