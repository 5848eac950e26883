"""Test session setup, shared fixtures and lanes (helpers live in smoke_helpers.py).

Lanes (pytest markers, all run by ``.ci/run``): ``ray`` for a test that uses a local Ray (the
fixtures ``ray_local`` / ``ray_address``, marked here), ``cluster`` for a multi-node Ray cluster,
``slow`` for one that takes more than about 15 s on a 2-core CPU. Locally, e.g.
``python -m pytest tests -m "not slow and not cluster"``.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import pytest
import torch
from golden_metrics import run_case
from ray_helpers import local_ray, release_local_ray
from smoke_helpers import smoke_config

from raycil.config import ExperimentConfig

# the generated data's disk cache (raycil.data.generated) of this session only, set before any
# Ray process starts so every actor and CLI the tests start shares it
_CACHE = tempfile.mkdtemp(prefix="raycil-test-cache-")
os.environ["RAYCIL_CACHE"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

torch.set_num_threads(1)  # small models: one thread each avoids oversubscribing a 2-core machine


RAY_FIXTURES = {"ray_local", "ray_address"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that asks for a Ray fixture is in the ``ray`` lane."""
    for item in items:
        if RAY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.ray)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    release_local_ray()


@pytest.fixture(scope="module")
def ray_local() -> str:
    """The session's local Ray (``ray_helpers``); its dashboard (state API) address, explicit
    because other Ray instances may run on the same machine."""
    return local_ray()["dashboard"]


@pytest.fixture(scope="module")
def ray_address() -> str:
    """The session's local Ray; its GCS address, for sweep CLIs started with ``--address``."""
    return local_ray()["address"]


@pytest.fixture
def smoke() -> ExperimentConfig:
    return smoke_config()


@pytest.fixture(scope="session")
def golden_run() -> Callable[[str], list[dict[str, Any]]]:
    """The per-phase metrics of a golden case (``golden_metrics.run_case``), run once per test
    session however many tests check it."""
    return functools.cache(run_case)
