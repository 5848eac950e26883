"""CIM's mask-generation branch (CIM §4.2, Figure 3): logically a second network that shares every
weight layer with the CIL backbone and differs only in its activations, learnable PAUs in place
of the ReLUs. φ, the CIM parameters, are the PAU coefficients: ``branch.parameters()``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from raycil.models.activations import SlotActivation, activation_slots, last_block_slots
from raycil.models.backbones import Backbone
from raycil.plugins.cim.pau import PAU, relu_distance


class MaskBranch(nn.Module):
    """One PAU per activation slot of ``template`` (17 for ResNet-18, CIM supplementary §7), or only
    for the last residual block's two slots with ``last_block_only`` (CIM Table 3, "LastBlock Only");
    the other slots stay ReLU. ``paus`` is keyed by slot index."""

    def __init__(self, template: nn.Module, last_block_only: bool = False):
        super().__init__()
        self.num_slots = len(activation_slots(template))
        if self.num_slots == 0:
            raise ValueError("MaskBranch: the template has no activation slots")
        indices = last_block_slots(template) if last_block_only else range(self.num_slots)
        device = next(template.parameters()).device
        self.paus = nn.ModuleDict({str(i): PAU() for i in indices}).to(device)

    def _backbone_slots(self, model: nn.Module) -> list[list[SlotActivation]]:
        found = [activation_slots(m) for m in model.modules() if isinstance(m, Backbone)]
        if not found:
            raise ValueError("MaskBranch: the model contains no Backbone")
        for slots in found:
            if len(slots) != self.num_slots:
                raise ValueError(f"MaskBranch: a backbone has {len(slots)} activation slots, "
                                 f"the branch was built for {self.num_slots}")
            if any(s.override is not None for s in slots):
                raise RuntimeError("MaskBranch: a branch is already active on this model")
        return found

    @contextmanager
    def active(self, model: nn.Module) -> Iterator[None]:
        """Run ``model`` as the mask branch: every backbone in it (one in an IncrementalNet, several
        in an ExpandableNet, matched by slot index) uses the PAUs; all overrides go on exit."""
        backbones = self._backbone_slots(model)
        try:
            for slots in backbones:
                for key, pau in self.paus.items():
                    slots[int(key)].set_override(pau)
            yield
        finally:
            for slots in backbones:
                for slot in slots:
                    slot.set_override(None)

    def relu_distances(self) -> dict[str, float]:
        """Per slot index, ∫_{-3}^{3} |PAU - ReLU| (CIM supplementary §4, Figure S1)."""
        return {key: relu_distance(pau) for key, pau in self.paus.items()}
