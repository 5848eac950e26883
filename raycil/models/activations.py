"""Activation slots: the ReLU positions of a backbone, which a second logical branch can run with
other activations while sharing every weight layer (CIM §4.2, Figure 3)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models.resnet import BasicBlock

Activation = Callable[[torch.Tensor], torch.Tensor]


class SlotActivation(nn.Module):
    """ReLU (the identity if ``relu`` is off, e.g. LUCIR's last block), unless an override
    activation is set. The override is stored as a plain attribute (not a submodule), so the CIL
    model's parameters and state_dict never include it; copies and pickles of the module drop it."""

    def __init__(self, inplace: bool = True):
        super().__init__()
        self.inplace = inplace
        self.relu = True
        self._override: Activation | None = None

    @property
    def override(self) -> Activation | None:
        return self._override

    def set_override(self, fn: Activation | None) -> None:
        object.__setattr__(self, "_override", fn)

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "_override": None}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._override is not None:
            return self._override(x)
        return F.relu(x, inplace=self.inplace) if self.relu else x

    def extra_repr(self) -> str:
        return (f"inplace={self.inplace}" + ("" if self.relu else ", identity")
                + (", overridden" if self._override is not None else ""))


class Block(BasicBlock):
    """torchvision's BasicBlock with its two ReLUs as separate slots: ``act1`` after bn1 and
    ``act2`` after the residual addition."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = None):
        super().__init__(inplanes, planes, stride, downsample, groups, base_width, dilation, norm_layer)
        del self.relu
        self.act1 = SlotActivation()
        self.act2 = SlotActivation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.act2(out)


def drop_last_relu(backbone: nn.Module) -> None:
    """Make the ReLU after the last residual addition the identity, so the embedding feeding a
    cosine classifier can take negative values (LUCIR, Hou et al. 2019, as its released code and
    the Mnemonics code built on it run it)."""
    blocks = [m for m in backbone.modules() if isinstance(m, Block)]
    if not blocks:
        raise ValueError("drop_last_relu: the backbone has no residual Block")
    blocks[-1].act2.relu = False


def activation_slots(backbone: nn.Module) -> list[SlotActivation]:
    """The backbone's slots in forward order: the stem's, then ``act1``, ``act2`` of each block."""
    return [m for m in backbone.modules() if isinstance(m, SlotActivation)]


def last_block_slots(backbone: nn.Module) -> list[int]:
    """Indices (in :func:`activation_slots`) of the last residual block's two slots."""
    blocks = [m for m in backbone.modules() if isinstance(m, Block)]
    if not blocks:
        raise ValueError("last_block_slots: the backbone has no residual Block")
    ids = [id(s) for s in activation_slots(backbone)]
    return [ids.index(id(blocks[-1].act1)), ids.index(id(blocks[-1].act2))]
