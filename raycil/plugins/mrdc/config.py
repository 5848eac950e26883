"""The MRDC plug-in's settings: the experiment section ``mrdc`` (Wang et al., ICLR 2022)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from raycil.plugins.spec import PluginSettings

if TYPE_CHECKING:
    from raycil.experiment import Experiment


class MrdcConfig(PluginSettings):
    """Memory replay with data compression: exemplars stored as JPEG bytes. ``quality``: off
    (null), a fixed JPEG quality 1..100, or ``auto``: chosen per phase by MRDC's rule (§4.2): the
    lowest quality of ``quality_grid`` whose compressed images keep the log-volume of their
    features within ``tolerance`` of the originals' (R_q within 1 ± tolerance), estimated per new
    class on the first of its ``rule_samples`` candidates in herding order (``rule_selection``;
    ``random``: a seeded random sample), at most ``max_set_fraction`` x the feature dimension of
    them (the authors' sets: 20-40 herding-selected exemplars in 512-d features, 40 / 512; sets
    near the dimension are near-singular and give R_q ≈ 1 at every quality).
    ``rule_selection: random`` with ``max_set_fraction: 1`` is the rule as raycil ran it before
    December 2026."""

    quality: int | str | None = None
    quality_grid: list[int] = Field(default_factory=lambda: [10, 20, 30, 40, 50, 60, 70, 80, 90])
    tolerance: float = Field(0.05, gt=0, lt=1)
    rule_samples: int = Field(64, ge=2)
    rule_selection: Literal["herding", "random"] = "herding"
    max_set_fraction: float = Field(40 / 512, gt=0, le=1)

    @field_validator("quality", mode="before")
    @classmethod
    def _quality(cls, v: Any) -> Any:
        ok = v is None or v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 100)
        if not ok:
            raise ValueError(f"mrdc.quality: expected a JPEG quality 1..100, 'auto' or null (got {v!r})")
        return v

    @field_validator("quality_grid")
    @classmethod
    def _grid(cls, v: list[int]) -> list[int]:
        if not v or any(not 1 <= q <= 100 for q in v):
            raise ValueError(f"mrdc.quality_grid: expected a non-empty list of qualities 1..100 (got {v})")
        return sorted(set(v))

    @property
    def active(self) -> bool:
        return self.quality is not None

    @property
    def stores_exemplars(self) -> bool:
        return self.active

    def check(self, cfg: Experiment) -> None:
        if self.active and not cfg.keeps_memory:
            raise ValueError(f"mrdc.quality: {self.quality!r} stores JPEG exemplars, but method "
                             f"'{cfg.method.name}' with memory.mode '{cfg.memory.mode}' keeps none")
