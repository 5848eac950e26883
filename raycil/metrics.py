"""Per-phase metrics and run summaries, in percent (docs/concepts.md).

- top-1 / top-5 accuracy over the test data of all classes seen so far;
- old / new: accuracy on the test samples of classes from earlier phases / of this phase;
- imbalance score (SS-IL §6.3): (e(p,n) + e(n,p)) / 2, the rates of old-class samples predicted
  as a new class and of new-class samples predicted as an old class;
- first-phase accuracy: on the test samples of phase 1's classes (for the forgetting rate);
- average incremental accuracy: mean top-1 over all phases, phase 1 included; last accuracy;
- forgetting rate F (Mnemonics Table 1): first-phase accuracy after phase 1 minus after the last;
- accuracy matrix: ``group{g}_acc`` after every phase, the accuracy on the test samples of the
  classes new in phase g (g = 1 .. this phase; its diagonal, g = this phase, is ``new_acc``);
- average forgetting (Chaudhry et al. 2018, "Riemannian Walk", Eq. 9): the mean over the old
  groups g of the best accuracy on g in an earlier phase minus the accuracy on g now.

Bytes kept between phases (for memory-vs-accuracy comparisons): after each phase, the exemplar
memory's stored bytes, the bytes of the network the learner keeps for the next phase (every
parameter and buffer: DER's frozen backbones, and the network a distilling method's next phase
takes as its teacher, are part of it) and of a generator the memory keeps (MFGR), counted alike
for every method (``bytes_kept``; the run's most, ``peak_bytes_kept``). Training time:
``total_train_seconds``, the phases' training loops summed (a timing: not reproducible).

Each accuracy has a validation counterpart, ``val_`` before its name (``val_top1``, ``val_avg_inc_acc``):
the same of the primary classifier on the validation images of the classes seen so far, the
data every choice of setting is made on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

VAL_PREFIX = "val_"


def group_key(group: int) -> str:
    """The accuracy-matrix column of phase ``group``'s classes."""
    return f"group{group}_acc"


def phase_metrics(scores: np.ndarray, labels: np.ndarray, known: int, first_classes: int,
                  prefix: str = "", group_ends: Sequence[int] = ()) -> dict[str, float]:
    """Metrics of one phase from scores [n, seen classes] and true labels [n]; ``group_ends``:
    the class count after each phase so far (one accuracy-matrix entry per phase group)."""
    labels = np.asarray(labels)
    pred = scores.argmax(1)
    k = min(5, scores.shape[1])
    topk = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    old, first = labels < known, labels < first_classes

    def pct(mask: np.ndarray, hits: np.ndarray) -> float:
        return float(100 * hits[mask].mean()) if mask.any() else math.nan

    correct = pred == labels
    every = np.ones_like(old)
    out = {
        "top1": pct(every, correct),
        "top5": pct(every, (topk == labels[:, None]).any(1)),
        "old_acc": pct(old, correct),
        "new_acc": pct(~old, correct),
        "first_acc": pct(first, correct),
    }
    if known > 0:
        e_pn = pct(old, pred >= known)
        e_np = pct(~old, pred < known)
        out.update({"e_old_as_new": e_pn, "e_new_as_old": e_np, "imbalance": (e_pn + e_np) / 2})
    else:
        out.update({"e_old_as_new": math.nan, "e_new_as_old": math.nan, "imbalance": math.nan})
    for g, hi in enumerate(group_ends, start=1):
        lo = group_ends[g - 2] if g > 1 else 0
        out[group_key(g)] = pct((labels >= lo) & (labels < hi), correct)
    return {prefix + key: value for key, value in out.items()}


def bytes_kept(metrics: dict[str, float]) -> float:
    """Exemplar, network and generator bytes a phase leaves for the next (see the module docstring)."""
    return float(sum(metrics.get(k, 0.0) for k in ("memory_bytes", "network_bytes", "generator_bytes")))


def average_forgetting(phases: list[dict[str, float]], prefix: str = "") -> float:
    """Chaudhry et al. 2018 Eq. 9 after the last of ``phases``: mean over old groups g of
    max_{l < t} a_{l,g} - a_{t,g} (NaN after phase 1 or without the accuracy matrix)."""
    t = len(phases)
    drops = []
    for g in range(1, t):
        key = prefix + group_key(g)
        if key not in phases[-1]:
            return math.nan
        drops.append(max(p[key] for p in phases[g - 1:t - 1]) - phases[-1][key])
    return float(np.mean(drops)) if drops else math.nan


def run_summary(phases: list[dict[str, float]]) -> dict[str, float]:
    """Average incremental accuracy, last accuracy, forgetting rate, average forgetting and mean
    imbalance of a run on its test data, and the same on its validation data (``val_`` keys)
    where its phases report them."""
    if not phases:
        return {}
    out = _summary(phases, "")
    if VAL_PREFIX + "top1" in phases[0]:
        out.update(_summary(phases, VAL_PREFIX))
    if all("bytes_kept" in p for p in phases):
        out["peak_bytes_kept"] = float(max(p["bytes_kept"] for p in phases))
    if all("train_seconds" in p for p in phases):
        out["total_train_seconds"] = float(sum(p["train_seconds"] for p in phases))
    return {**out, "num_phases": len(phases)}


def _summary(phases: list[dict[str, float]], prefix: str) -> dict[str, float]:
    acc = [p[prefix + "top1"] for p in phases]
    imbalance = [p[prefix + "imbalance"] for p in phases
                 if not math.isnan(p.get(prefix + "imbalance", math.nan))]
    summary = {
        "avg_inc_acc": float(np.mean(acc)),
        "last_acc": float(acc[-1]),
        "forgetting": float(phases[0][prefix + "first_acc"] - phases[-1][prefix + "first_acc"]),
        "avg_forgetting": average_forgetting(phases, prefix),
        "avg_imbalance": float(np.mean(imbalance)) if imbalance else math.nan,
    }
    return {prefix + key: value for key, value in summary.items()}
