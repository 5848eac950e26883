"""The generator MFGR trains from the old network (Xin et al. §6.2: DCGAN's generator for
CIFAR-100 / Tiny ImageNet, as DAFL's, Chen et al. 2019).

z ~ N(0, I) → linear to ``width`` maps of side s0 → batch norm → k times (upsample x2, 3x3 conv,
batch norm, LeakyReLU 0.2; channels halve each time, at least 16) → 3x3 conv to 3 channels →
tanh → batch norm without affine parameters. The last batch norm puts the images on the scale of
the network's normalised inputs. k = 2 and s0 = side / 4 for 32-px images (DAFL's); larger sides
take more stages (s0 ≤ 8) and a final resize when side is not s0 · 2^k."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def stages_for(side: int) -> tuple[int, int]:
    """(number of x2 upsampling stages k ≥ 2, starting side s0 ≤ 8) with s0 · 2^k ≥ ``side``."""
    k = max(2, math.ceil(math.log2(side / 8)))
    return k, math.ceil(side / 2 ** k)


class Generator(nn.Module):
    """Unconditional image generator: latent codes [n, latent_dim] → images [n, 3, side, side]."""

    def __init__(self, side: int, latent_dim: int, width: int):
        super().__init__()
        self.side, self.latent_dim = side, latent_dim
        k, self.start = stages_for(side)
        self.project = nn.Linear(latent_dim, width * self.start ** 2)
        self.width = width
        layers: list[nn.Module] = [nn.BatchNorm2d(width)]
        channels = width
        for i in range(k):
            out = max(width // 2 ** i, 16)
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(channels, out, 3, padding=1),
                       nn.BatchNorm2d(out), nn.LeakyReLU(0.2, inplace=True)]
            channels = out
        layers += [nn.Conv2d(channels, 3, 3, padding=1), nn.Tanh(), nn.BatchNorm2d(3, affine=False)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(self.project(z).view(len(z), self.width, self.start, self.start))
        if x.shape[-1] != self.side:
            x = F.interpolate(x, size=(self.side, self.side), mode="bilinear", align_corners=False)
        return x
