"""Backbones: torchvision ResNet-18 for >= 64-px images and small-image ResNets (CIFAR stem:
3x3 conv, no max-pool): ResNet-32/20 (He et al. 2016, the CIL papers' CIFAR network) and a narrow
ResNet-18. All are built from ``Block`` (torchvision's BasicBlock) and have every ReLU as a
``SlotActivation``, so CIM's mask branch can swap in learnable activations (CIM §4.2, Figure 3).
Every backbone returns its last feature maps (CAM needs them, CIM Eq. 1) and the pooled embedding."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import ResNet

from raycil.models.activations import Block, SlotActivation


class Backbone(nn.Module):
    """``forward(x) -> (feature_maps [B, C, h, w], embedding [B, C])``; ``out_dim`` = C."""

    out_dim: int

    def stem_and_stages(self) -> nn.Sequential:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmaps = self.stem_and_stages()(x)
        return fmaps, fmaps.mean(dim=(2, 3))


def _stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
    layers = [Block(inplanes, planes, stride, downsample)]
    layers += [Block(planes, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class SmallImageResNet(Backbone):
    """CIFAR-stem ResNet with ``blocks[i]`` Blocks of ``widths[i]`` channels per stage."""

    def __init__(self, blocks: list[int], widths: list[int]):
        super().__init__()
        stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                             SlotActivation())
        stages, inplanes = [], widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths, strict=True)):
            stages.append(_stage(inplanes, w, n, 1 if i == 0 else 2))
            inplanes = w
        self.body = nn.Sequential(stem, *stages)
        self.out_dim = widths[-1]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def stem_and_stages(self) -> nn.Sequential:
        return self.body


class ResNet18(Backbone):
    """torchvision ResNet-18 (random init: no weights are downloaded), without its classifier; the
    same layers and initialisation as ``resnet18(weights=None)``, built from ``Block``."""

    def __init__(self) -> None:
        super().__init__()
        net = ResNet(Block, [2, 2, 2, 2])
        self.body = nn.Sequential(net.conv1, net.bn1, SlotActivation(), net.maxpool,
                                  net.layer1, net.layer2, net.layer3, net.layer4)
        self.out_dim = 512

    def stem_and_stages(self) -> nn.Sequential:
        return self.body


def build_backbone(name: str, image_size: int | None, width: int = 20) -> Backbone:
    """``auto`` picks ResNet-18 for >= 64-px or file images and ResNet-32 for smaller images."""
    if name == "auto":
        name = "resnet18" if image_size is None or image_size >= 64 else "resnet32"
    if name == "resnet18":
        return ResNet18()
    if name == "resnet32":
        return SmallImageResNet([5, 5, 5], [16, 32, 64])
    if name == "resnet20":
        return SmallImageResNet([3, 3, 3], [16, 32, 64])
    if name == "resnet18_narrow":
        return SmallImageResNet([2, 2, 2, 2], [width, 2 * width, 4 * width, 8 * width])
    raise ValueError(f"model.backbone: unknown backbone '{name}'")
