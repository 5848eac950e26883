"""Weight transfer operations (Mnemonics supplementary §5, Eq. 11-14, after Sun et al.'s
meta-transfer learning), an option of every method: in the phases after the first, each trainable
convolution keeps its weights W_q of Θ_{i-1} fixed and learns one scale per filter, T_Wq (from 1),
and, where it has a bias, one shift per filter, T_bq (from 0):

    X_q = (W_q ⊙ T_Wq) X_{q-1} + (b_q + T_bq)                                       (Eq. 11)

Everything else (batch norm, classifier) trains as usual. After the phase the scales are folded
into the weights, Θ_i = T_i ⊙_L Θ_{i-1} (Eq. 14), and the network is a plain one again. Built on
``torch.nn.utils.parametrize``: the layers keep their names and their forward.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize


class FilterScale(nn.Module):
    """W ⊙ T_W with one learned scale per output filter."""

    def __init__(self, filters: int, device: torch.device):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(filters, 1, 1, 1, device=device))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.scale


class FilterShift(nn.Module):
    """b + T_b with one learned shift per output filter."""

    def __init__(self, filters: int, device: torch.device):
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(filters, device=device))

    def forward(self, bias: torch.Tensor) -> torch.Tensor:
        return bias + self.shift


def transferred_convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d) and parametrize.is_parametrized(m)]


def attach_transfer(model: nn.Module) -> None:
    """Freeze every trainable convolution's weights (and bias) behind a learned scale (shift)."""
    for conv in [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.weight.requires_grad]:
        device = conv.weight.device
        parametrize.register_parametrization(conv, "weight", FilterScale(conv.out_channels, device))
        conv.parametrizations["weight"].original.requires_grad_(False)
        if conv.bias is not None:
            parametrize.register_parametrization(conv, "bias", FilterShift(conv.out_channels, device))
            conv.parametrizations["bias"].original.requires_grad_(False)


def merge_transfer(model: nn.Module) -> None:
    """Eq. 14: fold the learned scales and shifts into the weights, which train again."""
    for conv in transferred_convs(model):
        for name in list(conv.parametrizations.keys()):
            parametrize.remove_parametrizations(conv, name, leave_parametrized=True)
            getattr(conv, name).requires_grad_(True)
