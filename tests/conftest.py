"""Test session setup and shared fixtures (helpers live in smoke_helpers.py)."""

from __future__ import annotations

import pytest
import torch
from smoke_helpers import smoke_config

from raycil.config import ExperimentConfig

torch.set_num_threads(1)  # small models: one thread each avoids oversubscribing a 2-core machine


@pytest.fixture
def smoke() -> ExperimentConfig:
    return smoke_config()
