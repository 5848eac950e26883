"""The pieces every settings schema shares: the strict pydantic base (unknown keys are errors,
assignments are validated), the one-line :class:`ConfigError`, and stage lengths given relative
to ``train.epochs``. Methods and plug-ins declare their own sections on this base; nothing here
imports the rest of raycil, so any of them can import it."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class ConfigError(ValueError):
    """A bad configuration: the message is one line naming the field and what is allowed."""


# a seed NumPy's SeedSequence and torch.manual_seed both take
Seed = Annotated[int, Field(ge=0, lt=2**63)]


class Strict(BaseModel):
    """A settings section: unknown keys are refused, assignments are validated, and values are
    taken as typed (``true`` is not the integer 1, ``3.5`` not an epoch count) and finite (no
    ``.inf`` budget or ``.nan`` rate)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)


def scaled_epochs(ratio: float, epochs: int) -> int:
    """⌈ratio x epochs⌉ for a second training stage sized relative to ``train.epochs``."""
    return math.ceil(round(ratio * epochs, 6))
