"""The exemplar-level problem of Mnemonics training (Liu et al., CVPR 2020, §4.3), as a true
bilevel step: exemplars E are image-size parameters (normalised images), and

    Θ′ ← Θ′ − α2 ∇Θ′ Lc(Θ′; E),   Θ′ initialised from Θ_i, ``unroll`` steps in the graph   (Eq. 8)
    E  ← E − β1 ∇E Lc(Θ′(E); D_i)                                                          (Eq. 9)

so ∇E is a gradient through the inner gradients (Hessian-vector products). The old classes'
exemplars are adjusted the same way with their own subsets as validation data (Eq. 10): split
into k folds, each fold is the training input of the inner steps and the other folds are the
validation batch (detached), so no fold's update sees its own loss.

Lc is the cross-entropy of the network's logits over the classes seen so far; Θ′ is a set of
parameter tensors (``raycil.plugins.inner_steps``), the network itself is never modified.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from raycil.plugins.inner_steps import Params, call_with, inner_step, trainable


@dataclass(frozen=True)
class ExemplarSchedule:
    """The exemplar-level SGD schedule of a phase: ``epochs`` passes over the validation data at
    rate ``lr`` halved every ``halve_every`` epochs with ``momentum`` and ``weight_decay`` (§7.1),
    ``unroll`` inner steps at ``alpha2``."""

    epochs: int
    lr: float
    halve_every: float
    alpha2: float
    unroll: int
    batch_size: int
    momentum: float = 0.0
    weight_decay: float = 0.0

    def lr_at(self, epoch: int) -> float:
        return self.lr * 0.5 ** int(epoch // self.halve_every)


@dataclass
class ExemplarFit:
    """What one exemplar-level problem did: the mean validation loss per epoch, the number of
    exemplar updates (SGD steps on E)."""

    losses: list[float]
    updates: int


class ExemplarSGD:
    """SGD on one exemplar tensor, as torch.optim.SGD (no dampening, no Nesterov):
    v ← μ v + (∇E + wd E), E ← E − lr v. Written out so that the rate can change every epoch and
    one momentum buffer is kept per fold of Eq. 10; with μ = wd = 0 it is E ← E − lr ∇E exactly."""

    def __init__(self, momentum: float, weight_decay: float):
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity: torch.Tensor | None = None

    def step(self, exemplars: nn.Parameter, loss: torch.Tensor, lr: float) -> None:
        (grad,) = torch.autograd.grad(loss, [exemplars])
        with torch.no_grad():
            direction = grad + self.weight_decay * exemplars
            self.velocity = direction if self.velocity is None else self.momentum * self.velocity + direction
            exemplars -= lr * self.velocity


def classification_loss(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                        total: int) -> torch.Tensor:
    """Lc: cross-entropy over the ``total`` seen classes of the network with parameters ``params``."""
    logits = call_with(model, params, lambda inp: model(inp)["logits"][:, :total], x)
    return F.cross_entropy(logits, y)


def temporary_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor, total: int, alpha2: float,
                    steps: int) -> Params:
    """Eq. 8: Θ′, ``steps`` gradient steps from Θ_i on (x, y), every step kept in the graph (Θ′
    is a function of x)."""
    theta = {n: p.detach().requires_grad_(True) for n, p in trainable(model).items()}
    for _ in range(steps):
        theta = inner_step(classification_loss(model, theta, x, y, total), theta, alpha2)
    return theta


def meta_loss(model: nn.Module, exemplars: torch.Tensor, labels: torch.Tensor, x_val: torch.Tensor,
              y_val: torch.Tensor, total: int, alpha2: float, steps: int) -> torch.Tensor:
    """Eq. 7a / 9: Lc(Θ′(E); validation batch), differentiable in the exemplars E."""
    theta = temporary_model(model, exemplars, labels, total, alpha2, steps)
    return classification_loss(model, theta, x_val, y_val, total)


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def train_new_exemplars(model: nn.Module, exemplars: nn.Parameter, labels: torch.Tensor,
                        x_new: torch.Tensor, y_new: torch.Tensor, total: int, schedule: ExemplarSchedule,
                        generator: torch.Generator) -> ExemplarFit:
    """Eq. 9 over ``schedule.epochs`` passes of D_i in batches."""
    losses, updates = [], 0
    sgd = ExemplarSGD(schedule.momentum, schedule.weight_decay)
    for epoch in range(schedule.epochs):
        lr, seen = schedule.lr_at(epoch), []
        for idx in shuffled_batches(len(y_new), schedule.batch_size, generator):
            loss = meta_loss(model, exemplars, labels, x_new[idx], y_new[idx], total, schedule.alpha2,
                             schedule.unroll)
            sgd.step(exemplars, loss, lr)
            seen.append(float(loss.detach()))
        losses.append(float(np.mean(seen)))
        updates += len(seen)
    return ExemplarFit(losses, updates)


def fold_ids(labels: np.ndarray, folds: int) -> np.ndarray:
    """Fold of every exemplar: its rank within its class modulo ``folds`` (each fold takes the
    classes' exemplars in turn, so both halves of Eq. 10 cover the classes alike)."""
    ids = np.zeros(len(labels), np.int64)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        ids[where] = np.arange(len(where)) % folds
    return ids


def adjust_old_exemplars(model: nn.Module, exemplars: torch.Tensor, labels: torch.Tensor,
                         folds: np.ndarray, total: int, schedule: ExemplarSchedule,
                         generator: torch.Generator) -> ExemplarFit:
    """Eq. 10 with k folds, in place on ``exemplars``: per epoch, each fold in turn takes the inner
    steps and is updated (its own SGD state) by the loss of Θ′ on the other folds (validation, in
    batches)."""
    losses, updates = [], 0
    sgd = {int(f): ExemplarSGD(schedule.momentum, schedule.weight_decay) for f in np.unique(folds)}
    for epoch in range(schedule.epochs):
        lr, seen = schedule.lr_at(epoch), []
        for f, fold_sgd in sgd.items():
            rows = torch.as_tensor(np.flatnonzero(folds == f))
            rest = torch.as_tensor(np.flatnonzero(folds != f))
            if len(rest) == 0:
                continue
            fold = nn.Parameter(exemplars[rows].clone())
            for idx in shuffled_batches(len(rest), schedule.batch_size, generator):
                val = rest[idx]
                loss = meta_loss(model, fold, labels[rows], exemplars[val], labels[val], total,
                                 schedule.alpha2, schedule.unroll)
                fold_sgd.step(fold, loss, lr)
                seen.append(float(loss.detach()))
            exemplars[rows] = fold.detach()
        losses.append(float(np.mean(seen)) if seen else float("nan"))
        updates += len(seen)
    return ExemplarFit(losses, updates)
