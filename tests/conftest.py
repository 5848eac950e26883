"""Test session setup and shared fixtures (helpers live in smoke_helpers.py)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
import torch
from smoke_helpers import smoke_config

from raycil.config import ExperimentConfig

# the generated data's disk cache (raycil.data.generated) of this session only, set before any
# Ray process starts so every actor and CLI the tests start shares it
_CACHE = tempfile.mkdtemp(prefix="raycil-test-cache-")
os.environ["RAYCIL_CACHE"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

torch.set_num_threads(1)  # small models: one thread each avoids oversubscribing a 2-core machine


@pytest.fixture
def smoke() -> ExperimentConfig:
    return smoke_config()
