"""Where a sweep's profile and ``--set`` keys go: experiment sections (``train.epochs``) to the
base experiment, the rest (``seeds``, ``search.num_samples``) to the sweep itself."""

from __future__ import annotations

from typing import Any

from raycil.config.composed import ExperimentConfig
from raycil.config.overrides import apply_overrides
from raycil.sweep.settings import SweepConfig


def route(key: str) -> str:
    """A profile or ``--set`` key: experiment sections go under ``experiment.``, the rest is sweep."""
    head = key.split(".", 1)[0]
    if head not in SweepConfig.model_fields and head in ExperimentConfig.model_fields:
        return f"experiment.{key}"
    return key


def routed(overrides: dict[str, Any]) -> dict[str, Any]:
    """Every key of ``overrides`` routed (:func:`route`)."""
    return {route(k): v for k, v in overrides.items()}


def set_routed(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Apply dotted overrides; ``search_space.<dotted key>`` and ``variants.<name>.<dotted key>``
    keep the experiment key whole instead of nesting it."""
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] == "search_space" and len(parts) > 1:
            data.setdefault("search_space", {})[".".join(parts[1:])] = value
        elif parts[0] == "variants" and len(parts) > 2:
            data.setdefault("variants", {}).setdefault(parts[1], {})[".".join(parts[2:])] = value
        else:
            apply_overrides(data, {key: value})
