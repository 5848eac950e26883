"""The generator's losses of knowledge recording (Xin et al. §5.2, Eq. 4-7), each on the old
network's logits of the generated images (over the old classes) or on its batch-norm inputs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


def one_hot_loss(logits: torch.Tensor) -> torch.Tensor:
    """ℓ_oh (Eq. 4): cross-entropy of the predictions to their own arg-max (pseudo one-hot) labels."""
    return F.cross_entropy(logits, logits.argmax(1))


def class_diversity_loss(logits: torch.Tensor, log_base: str = "10") -> torch.Tensor:
    """ℓ_cd (Eq. 4, from DAFL): the negative entropy of the mean prediction, −H(1/n Σ ŷ);
    smallest (−log K) when the generated images spread evenly over the K classes. The entropy in
    base 10 as the MFGR authors' code takes it (``log_base="e"``: natural, 2.3x as large)."""
    mean = F.softmax(logits, dim=1).mean(0)
    log = torch.log10 if log_base == "10" else torch.log
    return (mean * log(mean.clamp_min(1e-12))).sum()


def activation_loss(features: torch.Tensor) -> torch.Tensor:
    """DAFL's activation term (Chen et al. 2019, in the MFGR authors' code): −mean |f(x̃)| of the
    network's features, larger activations for images the network responds to."""
    return -features.abs().mean()


def pair_divergence_loss(outputs: torch.Tensor, pairs: int, generator: torch.Generator) -> torch.Tensor:
    """ℓ_div (Eq. 6): −½ (KL(p1 ‖ p2) + KL(p2 ‖ p1)) between the softmaxes of ``pairs`` random pairs
    of distinct generated images, averaged; minimising it pushes the samples apart. ``outputs``:
    the network's logits (a softmax over the classes) or the images' pixels flattened (a softmax
    over the pixels, as the authors' code computes it)."""
    n = len(outputs)
    first = torch.randint(0, n, (pairs,), generator=generator)
    second = (first + torch.randint(1, n, (pairs,), generator=generator)) % n  # never the same image
    log_p = F.log_softmax(outputs.flatten(1), dim=1)
    a, b = log_p[first.to(outputs.device)], log_p[second.to(outputs.device)]
    kl_ab = (a.exp() * (a - b)).sum(1)
    kl_ba = (b.exp() * (b - a)).sum(1)
    return -0.5 * (kl_ab + kl_ba).mean()


class BatchNormStatistics:
    """ℓ_bn (Eq. 5, after DeepInversion): forward hooks on every 2-d batch-norm layer of a network
    record the mean and (biased) variance of its input over the batch and positions; the loss is
    ‖μ − μ_bn‖₂ + ‖σ² − σ²_bn‖₂ against each layer's running statistics (the old data's),
    averaged over the layers as the authors' code does (Eq. 5 writes a sum; λ2 = 20 was set with
    the average, which keeps the term's scale independent of the network's depth)."""

    def __init__(self, network: nn.Module):
        self.layers = [m for m in network.modules() if isinstance(m, nn.BatchNorm2d)]
        self.terms: list[torch.Tensor] = []

    def _hook(self, layer: nn.BatchNorm2d, inputs: tuple[torch.Tensor, ...], _: torch.Tensor) -> None:
        x = inputs[0]
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        assert layer.running_mean is not None and layer.running_var is not None
        self.terms.append(torch.linalg.vector_norm(mean - layer.running_mean)
                          + torch.linalg.vector_norm(var - layer.running_var))

    @contextmanager
    def watching(self) -> Iterator[BatchNormStatistics]:
        """Hooks attached inside the block; :meth:`loss` reads what the forwards recorded."""
        handles = [layer.register_forward_hook(self._hook) for layer in self.layers]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    def loss(self) -> torch.Tensor:
        """The mean over the layers of the last forward pass (then forgets it)."""
        total = torch.stack(self.terms).mean()
        self.terms = []
        return total
