"""The method registry, one line per method, importable without torch: what the schema and the
memory need to know of a method (its settings, whether it keeps a memory, whether it trains on
every seen class) and where its hooks live, loaded only where a learner is built."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from raycil.methods.settings import (
    DerConfig,
    FinetuneConfig,
    FosterConfig,
    LucirConfig,
    LwfConfig,
    MethodSettings,
    SsilConfig,
    WaConfig,
)

if TYPE_CHECKING:
    from raycil.methods.base import Method


@dataclass(frozen=True)
class MethodSpec:
    """A method as the registry knows it: its name (``method.name``), the schema of its section
    ``method.<name>`` (None: no settings of its own), ``uses_memory`` (trains on D_i ∪ memory and
    has the memory select exemplars), ``trains_on_all_seen`` (joint training: every image of the
    seen classes) and ``hooks``, the ``module:Class`` of its :class:`~raycil.methods.base.Method`."""

    name: str
    hooks: str
    settings: type[MethodSettings] | None = None
    uses_memory: bool = True
    trains_on_all_seen: bool = False

    def method_class(self) -> type[Method]:
        """The method's hooks class (its module, and torch, load here)."""
        module, _, cls = self.hooks.partition(":")
        return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


METHODS: dict[str, MethodSpec] = {m.name: m for m in (
    MethodSpec("finetune", "raycil.methods.finetune:FineTune", FinetuneConfig),
    MethodSpec("icarl", "raycil.methods.icarl:ICaRL"),
    MethodSpec("lwf", "raycil.methods.lwf:LwF", LwfConfig, uses_memory=False),
    MethodSpec("ssil", "raycil.methods.ssil:SSIL", SsilConfig),
    MethodSpec("joint", "raycil.methods.joint:Joint", uses_memory=False, trains_on_all_seen=True),
    MethodSpec("lucir", "raycil.methods.lucir:LUCIR", LucirConfig),
    MethodSpec("wa", "raycil.methods.wa:WA", WaConfig),
    MethodSpec("der", "raycil.methods.der:DER", DerConfig),
    MethodSpec("foster", "raycil.methods.foster:FOSTER", FosterConfig),
)}
