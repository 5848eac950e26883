"""The knobs several methods share (the ``method`` section's own fields), importable without torch."""

from __future__ import annotations

from pydantic import Field

from raycil.schema import Strict


class MethodCommon(Strict):
    """The base method's name, the KD temperature and weight (LwF, iCaRL, WA, SS-IL's task-wise
    KD, FOSTER, MFGR's replay), and iCaRL's NME as the primary accuracy."""

    name: str = "finetune"  # the base method; the schema narrows it to the registered names
    kd_temperature: float = Field(2.0, gt=0)
    kd_weight: float = Field(1.0, ge=0)
    nme: bool = True
