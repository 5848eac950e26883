"""Shared pieces of the sweep tests: tiny sweep files and the uninterrupted in-process reference."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import yaml

from raycil.config import ExperimentConfig
from raycil.run import run_experiment

# a tiny experiment; at 20 epochs phase 1 of this data is learned (top-1 well above chance)
TINY = {
    "dataset": {"name": "synthetic", "num_classes": 4, "image_size": 16, "train_per_class": 30,
                "test_per_class": 10},
    "protocol": {"kind": "lfs", "num_phases": 2},
    "memory": {"mode": "fixed", "budget": 8, "selection": "herding"},
    "model": {"backbone": "resnet18_narrow", "width": 8},
    "method": {"name": "finetune"},
    "train": {"epochs_first": 1, "epochs": 1, "batch_size": 16, "lr_first": 0.05, "lr": 0.05,
              "progress": False},
}
# timings and placement differ between runs; everything else must match exactly
VOLATILE = {"train_seconds", "images_per_s", "learner_node", "started_at", "ended_at"}


def write_sweep(directory: Path, name: str, **sections: Any) -> Path:
    """A sweep YAML with the tiny experiment inline, outputs under ``directory``."""
    doc = {"name": name, "experiment": TINY, "storage_path": str(directory / "runs"),
           "resources": {"cpu": 1}, **sections}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def reference_phases(cfg: ExperimentConfig) -> list[dict[str, Any]]:
    """The uninterrupted in-process run (``raycil.run``) with one torch thread, like the actors."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_experiment(cfg, None, verbose=False)["phases"]
    finally:
        torch.set_num_threads(threads)


def result_lines(trial_dir: Path) -> list[dict[str, Any]]:
    """Tune's raw per-report lines of one trial (duplicates kept); a line Tune is still writing
    (no newline yet, as a test polling a running sweep may catch it) is left out."""
    text = (trial_dir / "result.json").read_text()
    complete = [line for line in text.splitlines(keepends=True) if line.endswith("\n")]
    return [json.loads(line) for line in complete if line.strip()]


def same_metrics(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Keys of ``expected`` whose values differ in ``got`` (NaN equals NaN)."""
    bad = []
    for key, value in expected.items():
        if key in VOLATILE:
            continue
        other = got.get(key)
        both_nan = isinstance(value, float) and math.isnan(value) and isinstance(other, float) \
            and math.isnan(other)
        if not both_nan and value != other:
            bad.append(f"{key}: {value} != {other}")
    return bad
