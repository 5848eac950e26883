"""Exemplar selection orders (FACIL-style, decoupled from storage): herding (iCaRL, Rebuffi et al.
2017, Algorithm 4) and random. Both yield candidate indices lazily, best first, so the memory
takes as many as its codec fits in a class's share without deciding that number up front."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def herding_order(features: np.ndarray) -> Iterator[int]:
    """Indices picked greedily so that the mean of the picked L2-normalised features stays
    closest to the class mean (iCaRL Alg. 4, without re-picking), until none is left."""
    f = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    mu = f.mean(0)
    running = np.zeros_like(mu)
    free = np.ones(len(f), bool)
    for step in range(len(f)):
        dist = np.linalg.norm(mu[None] - (running[None] + f) / (step + 1), axis=1)
        dist[~free] = np.inf
        i = int(np.argmin(dist))
        free[i] = False
        running += f[i]
        yield i


def random_order(n: int, rng: np.random.Generator) -> Iterator[int]:
    """The ``n`` indices in random order (Ringbuffer-style random exemplars, SS-IL §6.1)."""
    yield from (int(i) for i in rng.permutation(n))
