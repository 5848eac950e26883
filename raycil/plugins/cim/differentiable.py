"""The differentiable parts of CIM's compression (Luo et al., CVPR 2023): class activation maps
(Eq. 1; supplementary Eq. S1a-b) and compression with a continuous mask (Eq. S1c), in torch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from raycil.plugins.cim.compression import low_res_shape

CAM_EPS = 1e-12  # guards the min-max normalisation of a constant map (which becomes all zeros)


def cam_maps(fmaps: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
             size: tuple[int, int]) -> torch.Tensor:
    """Eq. 1 / S1a-b: ``A = w_y^T F(x)`` per image, min-max normalised, bilinearly upsampled.

    ``fmaps`` [B,C,h,w], ``weight`` [K,C] (classifier rows), ``labels`` [B] -> [B,H,W] in [0, 1];
    differentiable; half-precision inputs are normalised in float32."""
    a = torch.einsum("bc,bchw->bhw", weight[labels], fmaps)
    a = a.to(torch.promote_types(a.dtype, torch.float32))
    flat = a.flatten(1)
    lo, hi = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
    cam = (a - lo) / (hi - lo).clamp_min(CAM_EPS)
    return F.interpolate(cam[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def soft_compress(x: torch.Tensor, mask: torch.Tensor, eta: float) -> torch.Tensor:
    """Eq. S1c: ``x~ = M * x + (1 - M) * x_eta`` with a continuous mask [B,H,W] (differentiable);
    ``x_eta`` is nearest-neighbour down to :func:`low_res_shape` and back up."""
    h, w = x.shape[-2:]
    low = F.interpolate(x, size=low_res_shape(h, w, eta), mode="nearest")
    x_eta = F.interpolate(low, size=(h, w), mode="nearest")
    m = mask[:, None]
    return m * x + (1 - m) * x_eta
