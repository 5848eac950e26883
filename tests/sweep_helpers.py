"""Shared pieces of the sweep tests: tiny sweep files and the uninterrupted in-process reference."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import yaml
from golden_metrics import differences, path_for

from raycil.config import ExperimentConfig
from raycil.run import run_experiment
from raycil.sweep.plan import TrialSpec

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


def golden_differences(exp_dir: Path, sweep_file: str, profile: str = "smoke") -> dict[str, list[str]]:
    """Per trial of a finished sweep, its metrics (``phases.json``) that differ from those
    ``tests/golden/<profile>.json`` recorded for the same trial run in-process (only the recorded
    keys are compared: a sweep's rows also carry the trial's identity, node and times)."""
    golden = json.loads(path_for(profile).read_text())
    out = {}
    for phases_file in sorted(exp_dir.glob("*/phases.json")):
        rows = json.loads(phases_file.read_text())
        label = TrialSpec.from_tune_config(rows[0]["config"]).label()
        recorded = golden[f"sweep:{sweep_file}:{profile}:{label}"]
        if len(rows) != len(recorded):
            out[label] = [f"{len(recorded)} phases recorded, {len(rows)} in the sweep"]
            continue
        got = [{k: row.get(k) for k in phase} for row, phase in zip(rows, recorded, strict=True)]
        out[label] = differences(recorded, got)
    return out
