"""Loss terms shared by methods."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Knowledge distillation (Hinton et al. 2015; LwF Eq. 2, iCaRL as in PyCIL): soft-target
    cross-entropy between temperature-softened teacher and student distributions."""
    log_p = F.log_softmax(student_logits / temperature, dim=1)
    q = F.softmax(teacher_logits / temperature, dim=1)
    return -(q * log_p).sum(dim=1).mean()


def separated_softmax_loss(logits: torch.Tensor, y: torch.Tensor, known: int, total: int) -> torch.Tensor:
    """SS-IL Eq. 3: cross-entropy within the old classes P_t = [0, known) for old-class samples and
    within the new classes N_t = [known, total) for new-class samples, so a new-class sample
    puts no gradient on old-class scores (dl/ds_ij = 0 for j in P_t)."""
    old = y < known
    loss = logits.new_zeros(())
    if old.any():
        loss = loss + F.cross_entropy(logits[old, :known], y[old], reduction="sum")
    if (~old).any():
        loss = loss + F.cross_entropy(logits[~old, known:total], y[~old] - known, reduction="sum")
    return loss / len(y)


def task_wise_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tasks: Sequence[range],
                      temperature: float) -> torch.Tensor:
    """Task-wise KD of SS-IL's released code (Ahn et al., ICCV 2021 version): for every earlier
    task, :func:`kd_loss` within that task's classes only (softmax over its own logits), x T²,
    summed over the tasks."""
    terms = [kd_loss(student_logits[:, t.start: t.stop], teacher_logits[:, t.start: t.stop], temperature)
             for t in tasks]
    return temperature**2 * sum(terms, student_logits.new_zeros(()))
