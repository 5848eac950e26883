"""Padé Activation Unit (PAU; Molina et al., ICLR 2020), the learnable activation of CIM's mask
branch (CIM §4.2, footnote 4): degrees (5, 4), 10 parameters per unit (CIM supplementary §7)."""

from __future__ import annotations

import functools

import torch
from torch import nn

NUM_DEGREE = 5
DEN_DEGREE = 4


def _rational(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Safe PAU: (a0 + a1 x + ... + a5 x^5) / (1 + |b1| |x| + ... + |b4| |x|^4), by Horner."""
    num = a[-1]
    for coef in a.flip(0)[1:]:
        num = num * x + coef
    ax, b = x.abs(), b.abs()
    den = b[-1]
    for coef in b.flip(0)[1:]:
        den = den * ax + coef
    return num / (1 + den * ax)


@functools.cache
def relu_fit() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Coefficients ``(a, b)`` fitting ReLU on [-3, 3] (601 points, float64): the linearised least
    squares P(x) - ReLU(x)(Q(x) - 1) = ReLU(x), refined by L-BFGS on the squared error."""
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    y = torch.relu(x)
    design = torch.cat([torch.stack([x**k for k in range(NUM_DEGREE + 1)], 1),
                        torch.stack([-y * x.abs() ** k for k in range(1, DEN_DEGREE + 1)], 1)], 1)
    sol = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    a = sol[: NUM_DEGREE + 1].clone().requires_grad_(True)
    b = sol[NUM_DEGREE + 1 :].clone().requires_grad_(True)
    opt = torch.optim.LBFGS([a, b], max_iter=1000, tolerance_grad=1e-12, tolerance_change=1e-15,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (_rational(a, b, x) - y).square().mean()
        loss.backward()
        return loss

    opt.step(closure)
    return tuple(a.tolist()), tuple(b.abs().tolist())


class PAU(nn.Module):
    """``P(x) / Q(x)`` elementwise with coefficients shared over the whole tensor; Q >= 1, so it
    has no poles. Initialised to the ReLU fit (:func:`relu_fit`)."""

    def __init__(self) -> None:
        super().__init__()
        a, b = relu_fit()
        self.numerator = nn.Parameter(torch.tensor(a, dtype=torch.get_default_dtype()))
        self.denominator = nn.Parameter(torch.tensor(b, dtype=torch.get_default_dtype()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _rational(self.numerator, self.denominator, x)


@torch.no_grad()
def relu_distance(pau: PAU) -> float:
    """∫_{-3}^{3} |PAU(x) - ReLU(x)| dx by the trapezoid rule on 601 points (CIM supplementary §4)."""
    x = torch.linspace(-3, 3, 601, dtype=pau.numerator.dtype, device=pau.numerator.device)
    return torch.trapezoid((pau(x) - torch.relu(x)).abs(), x).item()
