"""The ``model`` section of the experiment schema, importable without torch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from raycil.schema import Strict


class ModelConfig(Strict):
    """The backbone (``width``: of resnet18_narrow) and ``weight_transfer``: from the second phase,
    train per-filter scales of the previous phase's convolutions instead of the convolutions
    (Mnemonics supplementary Eq. 11-14; :mod:`raycil.models.transfer`)."""

    backbone: Literal["auto", "resnet18", "resnet32", "resnet20", "resnet18_narrow"] = "auto"
    width: int = Field(20, ge=4, le=128)
    weight_transfer: bool = False
