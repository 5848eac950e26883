"""Knowledge recording (Xin et al. §5.3, Eq. 7): a generator trained from a frozen network alone,
ℓ_KR = ℓ_oh + λ1 ℓ_cd + λ2 ℓ_bn + λ3 ℓ_div (+ the authors' code's DAFL activation term) on the
network's logits over the classes it knows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
from torch import nn

from raycil.plugins.mfgr.config import MfgrConfig
from raycil.plugins.mfgr.generator import Generator
from raycil.plugins.mfgr.losses import (
    BatchNormStatistics,
    activation_loss,
    class_diversity_loss,
    one_hot_loss,
    pair_divergence_loss,
)


@contextmanager
def frozen(network: nn.Module) -> Iterator[nn.Module]:
    """``network`` in eval mode with no parameter taking gradients, restored afterwards."""
    was_training = [m.training for m in network.modules()]
    wanted = [p.requires_grad for p in network.parameters()]
    network.eval()
    for p in network.parameters():
        p.requires_grad_(False)
    try:
        yield network
    finally:
        for m, mode in zip(network.modules(), was_training, strict=True):
            m.training = mode
        for p, flag in zip(network.parameters(), wanted, strict=True):
            p.requires_grad_(flag)


def latent(generator: Generator, n: int, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    """n latent codes drawn on the CPU from ``rng`` (the same on every device)."""
    return torch.randn(n, generator.latent_dim, generator=rng).to(device)


def recording_loss(images: torch.Tensor, out: dict[str, torch.Tensor], classes: int,
                   bn: BatchNormStatistics, s: MfgrConfig, rng: torch.Generator) -> dict[str, torch.Tensor]:
    """The terms of Eq. 7 and the activation term on generated ``images`` and the network's
    outputs ``out`` on them (a weight of 0 leaves its term out, uncomputed), and their weighted sum."""
    logits = out["logits"][:, :classes]
    terms = {"oh": one_hot_loss(logits)}
    total = terms["oh"]
    if s.lambda1 > 0:
        terms["cd"] = class_diversity_loss(logits, s.cd_log)
        total = total + s.lambda1 * terms["cd"]
    if s.lambda2 > 0:
        terms["bn"] = bn.loss()
        total = total + s.lambda2 * terms["bn"]
    if s.lambda3 > 0:
        terms["div"] = pair_divergence_loss(images if s.div_on == "pixels" else logits, s.div_pairs, rng)
        total = total + s.lambda3 * terms["div"]
    if s.activation_weight > 0:
        terms["act"] = activation_loss(out["features"])
        total = total + s.activation_weight * terms["act"]
    return {**terms, "total": total}


def class_spread(predicted: np.ndarray, classes: int) -> tuple[float, float]:
    """(share of the ``classes`` that get at least one sample, normalised entropy of the class
    histogram: 1 when the samples spread evenly) of the network's predicted classes."""
    counts = np.bincount(predicted, minlength=classes)[:classes]
    p = counts[counts > 0] / counts.sum()
    entropy = float(abs((p * np.log(p)).sum()) / np.log(classes)) if classes > 1 else 1.0
    return float((counts > 0).mean()), entropy


def record_generator(network: nn.Module, classes: int, s: MfgrConfig, side: int, iterations: int,
                     device: torch.device, seed: int) -> tuple[Generator, dict[str, float]]:
    """Train a fresh generator for ``iterations`` Adam steps against the frozen ``network``'s first
    ``classes`` logits; statistics: the last step's loss terms and how the network classifies
    ``20 x classes`` (at least a batch) fresh samples (coverage, balance, confidence)."""
    rng = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # the generator's initialisation leaves the run's stream alone
        torch.manual_seed(seed)
        generator = Generator(side, s.latent_dim, s.width).to(device).train()
    opt = torch.optim.Adam(generator.parameters(), lr=s.lr)
    bn = BatchNormStatistics(network)
    with frozen(network), (bn.watching() if s.lambda2 > 0 else nullcontext()):
        for _ in range(iterations):
            images = generator(latent(generator, s.batch_size, rng, device))
            terms = recording_loss(images, network(images), classes, bn, s, rng)
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            opt.step()
    with frozen(network), torch.no_grad():
        n = max(s.batch_size, 20 * classes)
        probs = network(generator(latent(generator, n, rng, device)))["logits"][:, :classes].softmax(1)
    coverage, balance = class_spread(probs.argmax(1).cpu().numpy(), classes)
    stats = {f"mfgr_loss_{k}": float(v.detach()) for k, v in terms.items()}
    stats.update(mfgr_steps=float(iterations), mfgr_coverage=coverage, mfgr_balance=balance,
                 mfgr_confidence=float(probs.max(1).values.mean()))
    return generator, stats
