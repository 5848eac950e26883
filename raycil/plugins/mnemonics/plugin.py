"""The learner side of the Mnemonics plug-in (Liu et al., CVPR 2020, Algorithm 1 lines 10-15):
after the memory has stored the new classes' exemplars (line 10, S sampled from D_i by the
memory's selection), it trains them on D_i (line 11, Eq. 9) and, from the second phase on,
adjusts the old classes' exemplars against each other (lines 12-15, Eq. 10); the memory then
stores the learned images (:class:`~raycil.plugins.mnemonics.storage.TensorCodec`). The balanced
fine-tuning of line 18 is the learner's ``train.balanced_finetune``, run on the stored exemplars.

Differences from Algorithm 1, on purpose: the memory shrinks the old classes before their
adjustment (line 17 after 15 in the paper), so only what is kept is optimised; and every
exemplar-level pass runs with the network in its training mode, batch-norm statistics restored
afterwards (the inner steps train Θ′; Θ_i's running statistics must not move).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from raycil.data.protocol import PhaseContext
from raycil.learner.batches import BatchSource
from raycil.memory.store import Exemplars
from raycil.plugins.inner_steps import kept_buffers
from raycil.plugins.mnemonics.bilevel import (
    ExemplarSchedule,
    adjust_old_exemplars,
    fold_ids,
    train_new_exemplars,
)
from raycil.plugins.mnemonics.config import MnemonicsConfig
from raycil.plugins.mnemonics.storage import to_storage
from raycil.plugins.seam import LearnerHost, LearnerPlugin

if TYPE_CHECKING:
    from raycil.experiment import Experiment


def mean_or_zero(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else 0.0


class MnemonicsPlugin(LearnerPlugin):
    """Optimises the memory's exemplars after each phase's training. Per phase it reports what
    shows it ran: ``mnemonics_updates`` / ``mnemonics_old_updates`` (exemplar SGD steps of Eq. 9 /
    Eq. 10), ``mnemonics_inner_steps`` (Θ′'s unrolled steps per update, Eq. 8),
    ``mnemonics_shift`` / ``mnemonics_old_shift`` (mean absolute change of the new / adjusted
    old exemplars, in pixel levels 0..255, as stored), ``mnemonics_shift_learned`` (the same
    before the storage rounding), ``mnemonics_val_first`` / ``mnemonics_val_last`` (Eq. 9's
    validation loss in the first and last exemplar epoch); its time is measured by
    ``benchmarks/bench_mnemonics.py``."""

    def __init__(self, settings: MnemonicsConfig, cfg: Experiment):
        self.settings = settings
        self.seed = cfg.seed
        self.train = cfg.train
        self.last_stats: dict[str, float] = {}

    def schedule(self, ctx: PhaseContext, lr: float) -> ExemplarSchedule:
        """The paper's exemplar-level schedule (§7.1), or with ``rescale`` that schedule shrunk to
        this phase's model epochs over ``of_epochs``."""
        s = self.settings
        scale = (self.train.epochs_first if ctx.is_first else self.train.epochs) / s.of_epochs
        epochs, halve_every = ((max(1, round(s.epochs * scale)), max(scale * s.halve_every, 1e-9))
                               if s.rescale else (s.epochs, s.halve_every))
        return ExemplarSchedule(epochs=epochs, lr=lr, halve_every=halve_every, alpha2=s.alpha2,
                                unroll=s.unroll, batch_size=self.train.batch_size,
                                momentum=s.momentum, weight_decay=s.weight_decay)

    def refine_exemplars(self, host: LearnerHost, ctx: PhaseContext, exemplars: Exemplars) -> Exemplars:
        images, labels = exemplars
        if len(labels) == 0:
            return exemplars
        generator = torch.Generator().manual_seed(int(np.random.default_rng([self.seed, ctx.phase, 29])
                                                      .integers(2**31)))
        source = BatchSource(np.asarray(images), labels, host.device, False, generator)
        x, y = source.take(torch.arange(len(source)))
        new = np.isin(labels, ctx.new_classes)
        new_rows, old_rows = torch.as_tensor(new), torch.as_tensor(~new)
        learned = x.clone()
        stats: dict[str, float] = {}
        with kept_buffers(host.model):
            host.train_mode()
            if self.settings.train_new and new.any():
                d_i = host.data.train.of_classes(ctx.new_classes)
                x_new, y_new = BatchSource(d_i.images, d_i.labels, host.device, False, generator).take(
                    torch.arange(len(d_i)))
                e_new = nn.Parameter(x[new_rows].clone())
                fit = train_new_exemplars(host.model, e_new, y[new_rows], x_new, y_new,
                                          ctx.total, self.schedule(ctx, self.settings.beta1), generator)
                learned[new_rows] = e_new.detach()
                stats.update(mnemonics_val_first=fit.losses[0], mnemonics_val_last=fit.losses[-1],
                             mnemonics_updates=fit.updates, mnemonics_inner_steps=self.settings.unroll)
            if self.settings.adjust_old and old_rows.any():
                e_old = x[old_rows].clone()
                folds = fold_ids(labels[~new], self.settings.folds)
                fit = adjust_old_exemplars(host.model, e_old, y[old_rows], folds, ctx.total,
                                           self.schedule(ctx, self.settings.beta2), generator)
                learned[old_rows] = e_old
                stats.update(mnemonics_old_updates=fit.updates)
        pixels = (learned * source.std + source.mean).permute(0, 2, 3, 1).cpu().numpy()
        before = np.asarray(images, np.float64)
        stored = np.abs(to_storage(pixels, self.settings.storage) - before).mean(axis=(1, 2, 3))
        learned_change = np.abs(pixels - before).mean(axis=(1, 2, 3))
        stats.update(mnemonics_shift=mean_or_zero(stored[new]),
                     mnemonics_old_shift=mean_or_zero(stored[~new]),
                     mnemonics_shift_learned=mean_or_zero(learned_change[new]))
        self.last_stats = stats
        return pixels, labels

    def stats(self) -> dict[str, float]:
        return dict(self.last_stats)
