"""Exemplar selection orders: herding (iCaRL, Rebuffi et al. 2017, Algorithm 4) and random."""

from __future__ import annotations

import numpy as np


def herding_order(features: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` exemplars picked greedily so that the mean of the picked L2-normalised
    features stays closest to the class mean (iCaRL Alg. 4, without re-picking)."""
    f = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    k = min(k, len(f))
    mu = f.mean(0)
    running = np.zeros_like(mu)
    free = np.ones(len(f), bool)
    picked = np.empty(k, np.int64)
    for step in range(k):
        dist = np.linalg.norm(mu[None] - (running[None] + f) / (step + 1), axis=1)
        dist[~free] = np.inf
        i = int(np.argmin(dist))
        picked[step], free[i] = i, False
        running += f[i]
    return picked


def random_order(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` of ``n`` indices in random order (Ringbuffer-style random exemplars, SS-IL §6.1)."""
    return rng.permutation(n)[: min(k, n)]
