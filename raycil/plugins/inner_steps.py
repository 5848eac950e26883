"""Differentiable inner steps for the bilevel problems of the plug-ins: a temporary model θ⁺
trained by gradient steps kept in the autograd graph, so a loss of θ⁺ back-propagates to what the
inner steps trained on (CIM's masks, Eq. 7-9; Mnemonics' exemplars, Eq. 8-9). Only the parameter
tensors are swapped (``torch.func.functional_call``): the module itself is never modified."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]


@contextmanager
def kept_buffers(model: nn.Module) -> Iterator[None]:
    """Restore every buffer (batch-norm running statistics) on exit."""
    saved = [b.detach().clone() for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, s in zip(model.buffers(), saved, strict=True):
                b.copy_(s)


class _Bound(nn.Module):
    """Calls ``fn`` with ``model`` registered, so functional_call can swap its parameters."""

    def __init__(self, model: nn.Module, fn: Callable[..., Any]):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)


def call_with(model: nn.Module, params: Params, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with ``model``'s parameters replaced by ``params`` (e.g. θ⁺)."""
    return functional_call(_Bound(model, fn), {f"model.{k}": v for k, v in params.items()}, args)


def trainable(model: nn.Module) -> Params:
    """The parameters an inner step trains: those that require gradients, by name."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def inner_step(loss: torch.Tensor, theta: Params, lr: float) -> Params:
    """One SGD step θ⁺ = θ − lr ∇θ L, kept in the graph (θ⁺ is a function of whatever L depends
    on besides θ: CIM Eq. 7, Mnemonics Eq. 8)."""
    grads = torch.autograd.grad(loss, list(theta.values()), create_graph=True, allow_unused=True)
    return {n: p if g is None else p - lr * g for (n, p), g in zip(theta.items(), grads, strict=True)}
