"""Mini-batches for training and evaluation, shuffled from a seeded torch generator.

In-memory fixed-size images (generated data, CIFAR-100, image folders, exemplars) are augmented
on the training device from the batch generator, which keeps a 2-core CPU busy with the model
rather than with per-image Python: pad-crop-flip for small images, or CIM Table S2's resized
crop, flip and brightness jitter (evaluated on the centre crop of Resize 256 / CenterCrop 224).
Variable-size file datasets use per-image Table S2 transforms. On CUDA, batches travel as uint8
through pinned memory without blocking the host, and pad-crop-flip is one batched gather there
as on a CPU (drawn from the same CPU generator: the same batches to the bit).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from raycil.data.imageset import ImageFiles
from raycil.learner.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    cam_transform,
    test_transform,
    train_transform,
)

Batch = tuple[torch.Tensor, torch.Tensor]


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``; a CPU tensor bound for CUDA goes through pinned memory, not blocking."""
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def pad_crop_flip(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding by ``pad`` and random horizontal flip, per sample, as one
    batched gather on ``x``'s device. The offsets and flips come from ``generator`` (a CPU
    generator: the draws are those of the former per-sample loop, and a crop is a copy, so the
    batch is the same to the bit on any device); the result is contiguous NCHW."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = to_device(torch.randint(0, 2 * pad + 1, (n, 2), generator=generator), x.device)
    flips = to_device(torch.rand(n, generator=generator) < 0.5, x.device)
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (n, h)
    across = torch.arange(w, device=x.device)
    cols = offsets[:, 1:] + torch.where(flips[:, None], w - 1 - across, across)  # (n, w), mirrored
    out = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * pad))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w)).contiguous()


def resized_crop(x: torch.Tensor, generator: torch.Generator, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), brightness: float = 63 / 255) -> torch.Tensor:
    """Table S2's training transform on a batch of float 0..255 images, per sample: a random crop
    of ``scale`` of the area and aspect ``ratio`` resized back to the side (torchvision's
    RandomResizedCrop sampling: 10 tries, then the whole image), a horizontal flip, a brightness
    factor in [1 − b, 1 + b]."""
    n, _, h, w = x.shape
    out = []
    for i in range(n):
        top, left, ch, cw = 0, 0, h, w
        for s_u, r_u, t_u, l_u in torch.rand(10, 4, generator=generator).tolist():
            area = h * w * (scale[0] + s_u * (scale[1] - scale[0]))
            aspect = math.exp(math.log(ratio[0]) + r_u * (math.log(ratio[1]) - math.log(ratio[0])))
            tw, th = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < tw <= w and 0 < th <= h:
                top, left, ch, cw = int(t_u * (h - th + 1)), int(l_u * (w - tw + 1)), th, tw
                break
        crop = x[i:i + 1, :, top:top + ch, left:left + cw]
        out.append(F.interpolate(crop, size=(h, w), mode="bilinear", antialias=True, align_corners=False))
    batch = torch.cat(out)
    flips = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    batch = torch.where(flips[:, None, None, None], batch.flip(3), batch)
    factor = 1 + brightness * (2 * torch.rand(n, generator=generator) - 1)
    return (batch * factor.to(x.device)[:, None, None, None]).clamp(0, 255)


def centre_crop(x: torch.Tensor) -> torch.Tensor:
    """Table S2's test transform at the images' own side S: resize to S x 256/224, crop S centred."""
    side = x.shape[-1]
    big = round(side * 256 / 224)
    x = F.interpolate(x, size=(big, big), mode="bilinear", antialias=True, align_corners=False)
    start = (big - side) // 2
    return x[..., start:start + side, start:start + side]


class BatchSource:
    """Batches of (normalised float images, labels) from uint8 images, for one device.

    ``cam=True`` (evaluation only) takes images whole (file images resized to 224x224: Table S2
    CAM transform); ``augment`` (fixed-size images): ``pad_crop_flip`` or ``resized_crop``
    (:func:`raycil.data.config.augmentation`); :meth:`set_overrides` swaps some images for
    others (CIM's artifact augmentation). On CUDA a batch is gathered into pinned memory and copied
    without blocking (uint8), then augmented there; ``channels_last`` hands out batches in
    ``torch.channels_last`` (``train.channels_last``). On a CPU, batches are what they always were."""

    def __init__(self, images: np.ndarray | ImageFiles | list[np.ndarray], labels: np.ndarray,
                 device: torch.device, train: bool, generator: torch.Generator, cam: bool = False,
                 augment: str = "pad_crop_flip", channels_last: bool = False):
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.device, self.train, self.generator = device, train, generator
        self.cuda, self.channels_last = device.type == "cuda", channels_last
        self.resized_crop, self.cam = augment == "resized_crop", cam
        self.fixed = isinstance(images, np.ndarray)
        if self.fixed:
            self.images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
            self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1) * 255
            self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1) * 255
        else:
            self.images = images
            evaluation = cam_transform() if cam else test_transform(None)
            self.transform = train_transform(None) if train else evaluation
        self.original = self.images
        self.overrides: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, idx: torch.Tensor) -> Batch:
        """The batch at indices ``idx``, augmented when training."""
        y = self.upload(self.labels, idx)
        if self.fixed:
            if self.cuda:  # whole HxWx3 rows gathered, copied as uint8, laid out NCHW on the device
                x = self.upload(self.images.permute(0, 2, 3, 1), idx).permute(0, 3, 1, 2).float()
            else:
                x = self.images[idx].to(self.device).float()
            if self.train:
                x = (resized_crop(x, self.generator) if self.resized_crop
                     else pad_crop_flip(x, max(1, x.shape[-1] // 8), self.generator))
            elif self.resized_crop and not self.cam:
                x = centre_crop(x)
            return self.layout((x - self.mean) / self.std), y
        pics = [torch.from_numpy(np.ascontiguousarray(self.image(int(i)))).permute(2, 0, 1) for i in idx]
        return self.layout(to_device(torch.stack([self.transform(p) for p in pics]), self.device)), y

    def upload(self, t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """``t[idx]`` on the device; on CUDA gathered straight into pinned memory and copied
        without blocking (the caching host allocator keeps the buffer until the copy is done)."""
        if not self.cuda:
            return t[idx].to(self.device)
        out = torch.empty((len(idx), *t.shape[1:]), dtype=t.dtype, pin_memory=True)
        torch.index_select(t, 0, idx, out=out)
        return out.to(self.device, non_blocking=True)

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in channels-last if asked; on CUDA else contiguous NCHW; on a CPU as it came
        (evaluation batches there have always been NHWC-strided views, training batches NCHW)."""
        if self.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x.contiguous() if self.cuda else x

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` as uint8 HxWx3 (an override if one is set)."""
        if i in self.overrides:
            return self.overrides[i]
        return self.images[i].permute(1, 2, 0).numpy() if self.fixed else self.images[i]

    def set_overrides(self, overrides: dict[int, np.ndarray]) -> None:
        """Serve ``overrides[i]`` instead of image ``i`` until the next call (``{}`` restores all)."""
        self.overrides = dict(overrides)
        if self.fixed:
            self.images = self.original
            if overrides:
                self.images = self.original.clone()
                idx = torch.as_tensor(list(overrides))
                self.images[idx] = torch.from_numpy(np.stack(list(overrides.values()))).permute(0, 3, 1, 2)

    def epoch(self, batch_size: int, shuffle: bool = True) -> Iterator[Batch]:
        n = len(self)
        order = torch.randperm(n, generator=self.generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            yield self.take(order[start:start + batch_size])

    def sample(self, k: int) -> Batch:
        """``k`` items drawn uniformly with replacement (SS-IL replay batch B_M)."""
        return self.take(torch.randint(0, len(self), (k,), generator=self.generator))
