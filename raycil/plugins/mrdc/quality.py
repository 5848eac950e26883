"""MRDC's choice of the JPEG quality for the classes of a phase (Wang et al., ICLR 2022, §4.2).

A lower quality fits more exemplars of a class in its share of the memory (quantity) but
distorts them (quality). MRDC models the stored set as a determinantal point process over the
model's features: with a quality q, the N_q exemplars that fit should span the same feature
volume compressed as they do uncompressed. With F the L2-normalised features of a set, its
log-volume is ½ log det(F Fᵀ) (the DPP's L-ensemble, L = F Fᵀ), and

    R_q = mean over classes of logVol(compressed set) / mean over classes of logVol(original set)

(the authors' released code averages the log-volumes over classes). MRDC keeps the largest
quantity whose R_q stays near 1: the lowest quality of the grid with |R_q − 1| <= ε. Each
class's set is its first candidates in herding order (as the authors' code measures it), at most
a fraction of the feature dimension: near the dimension every set is near-singular and R_q ≈ 1 at
every quality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def log_volume(features: np.ndarray) -> float:
    """½ log det(F Fᵀ) of the L2-normalised rows of ``features`` [m, d] (m <= d): the log-volume
    of the parallelotope they span; -inf when they are linearly dependent."""
    f = np.asarray(features, np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    sign, logdet = np.linalg.slogdet(f @ f.T)
    return 0.5 * float(logdet) if sign > 0 else -np.inf


def volume_ratio(originals: Sequence[np.ndarray], compressed: Sequence[np.ndarray]) -> float:
    """R_q over classes: the mean log-volume of the compressed sets over that of their originals
    (a class whose original set has no finite volume is left out); NaN if no class counts."""
    pairs = [(log_volume(o), log_volume(c)) for o, c in zip(originals, compressed, strict=True)]
    pairs = [(o, c) for o, c in pairs if np.isfinite(o) and o != 0]
    if not pairs:
        return float("nan")
    return float(np.mean([c for _, c in pairs]) / np.mean([o for o, _ in pairs]))


def choose_quality(ratios: Mapping[int, float], tolerance: float) -> int:
    """The lowest quality whose R_q is within ``tolerance`` of 1 (a compressed set that loses
    volume has R_q > 1, since log-volumes are negative); the highest quality if none is."""
    for quality in sorted(ratios):
        r = ratios[quality]
        if np.isfinite(r) and abs(r - 1) <= tolerance:
            return quality
    return max(ratios)


def set_limit(dim: int, fraction: float) -> int:
    """The largest set the rule measures in ``dim``-d features: ``fraction`` x dim, fewer than
    dim (a full-rank determinant), at least 2 (a volume needs two vectors)."""
    return max(2, min(dim - 1, int(fraction * dim)))


def set_size(share: float, mean_units: float, available: int, limit: int) -> int:
    """How many exemplars of a class the rule measures at one quality: N_q (as many as the
    class's ``share`` holds at ``mean_units`` each), at most ``limit``, at least 2 and at most
    the ``available`` candidates."""
    n_q = int(share / mean_units) if mean_units > 0 else available
    return min(available, max(2, min(n_q, limit)))
