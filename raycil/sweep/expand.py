"""A sweep's search space expanded into trial settings: grid points crossed with seeded draws."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from raycil.sweep.settings import ParamSpec, SweepConfig, plain


def draw(spec: ParamSpec, rng: np.random.RandomState) -> Any:
    """One seeded draw (quantized floats rounded, so 0.30000000000000004 reads 0.3)."""
    v = plain(spec.domain().sample(random_state=rng))
    return round(v, 12) if isinstance(v, float) else v


def expand_params(sweep: SweepConfig) -> list[dict[str, Any]]:
    """Grid points crossed with ``num_samples`` random draws (Tune's samplers, seeded)."""
    space = sweep.search_space
    grid_keys = [k for k, s in space.items() if s.kind == "grid"]
    grid = [dict(zip(grid_keys, combo, strict=True))
            for combo in itertools.product(*(space[k].args for k in grid_keys))]
    drawn_keys = [k for k, s in space.items() if s.kind != "grid"]
    rng = np.random.RandomState(sweep.search.seed)
    draws = [{k: draw(space[k], rng) for k in drawn_keys}
             for _ in range(sweep.search.num_samples if drawn_keys else 1)]
    return [{k: {**g, **d}[k] for k in space} for d in draws for g in grid]
