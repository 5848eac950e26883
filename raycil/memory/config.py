"""The ``memory`` section of the experiment schema, importable without torch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from raycil.schema import Strict


class MemoryConfig(Strict):
    """Budget in memory units (docs/concepts.md): fixed = M units in total, growing = m units per class."""

    mode: Literal["fixed", "growing", "none"] = "fixed"
    budget: float = Field(200, ge=0)
    selection: Literal["herding", "random"] = "herding"
