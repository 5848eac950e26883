"""CIM exemplar compression (Luo et al., CVPR 2023, §4.1 Eq. 1-4, supplementary Eq. S1)."""

import cv2
import numpy as np
import pytest
import torch
from memory_helpers import fill_phases

from raycil.memory.budget import Budget
from raycil.memory.codec import Candidates, RawCodec
from raycil.memory.store import ExemplarMemory
from raycil.plugins.cim.compression import (
    box_iou,
    center_box,
    compress,
    cost,
    coverage,
    low_res_shape,
    mask_box,
    random_box,
    resample,
    scale_box,
)
from raycil.plugins.cim.differentiable import cam_maps, soft_compress
from raycil.plugins.cim.storage import META_BYTES, CimCodec, CompressedExemplar


def image(rng, h, w):
    return rng.integers(0, 256, (h, w, 3), np.uint8)


# ------------------------------------------------------------------ Eq. 1: CAM
def test_cam_is_label_row_times_features_min_max_normalised():
    fmaps = torch.zeros(2, 2, 4, 4)
    fmaps[:, 0, 1, 2], fmaps[:, 1, 3, 0] = 5.0, 3.0
    fmaps[:, 0, 0, 0] = -1.0
    weight = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    cam = cam_maps(fmaps, weight, torch.tensor([0, 1]), (4, 4))
    assert cam.shape == (2, 4, 4)
    assert tuple(np.unravel_index(int(cam[0].argmax()), (4, 4))) == (1, 2)  # label 0: channel 0
    assert tuple(np.unravel_index(int(cam[1].argmax()), (4, 4))) == (3, 0)  # label 1: channel 1
    a0 = fmaps[0, 0]
    torch.testing.assert_close(cam[0], (a0 - a0.min()) / (a0.max() - a0.min()))
    for c in cam:
        assert float(c.min()) == pytest.approx(0) and float(c.max()) == pytest.approx(1)


def test_cam_upsampled_in_unit_range_constant_map_zero_and_differentiable():
    fmaps = torch.randn(3, 4, 7, 7, requires_grad=True)
    weight = torch.randn(5, 4)
    cam = cam_maps(fmaps, weight, torch.tensor([4, 0, 2]), (32, 32))
    assert cam.shape == (3, 32, 32) and float(cam.detach().min()) >= 0 and float(cam.detach().max()) <= 1
    cam.pow(2).sum().backward()
    assert fmaps.grad is not None and torch.isfinite(fmaps.grad).all() and fmaps.grad.abs().sum() > 0
    flat = cam_maps(torch.ones(1, 4, 7, 7), weight, torch.tensor([1]), (14, 14))
    assert torch.isfinite(flat).all() and float(flat.abs().max()) == 0


# ------------------------------------------------------------------ Eq. 2: box
def test_mask_box_is_tight_box_of_strictly_above_threshold():
    cam = np.zeros((6, 8))
    cam[1, 2], cam[3, 5], cam[5, 7] = 0.9, 0.6, 0.5
    assert mask_box(cam, 0.5) == (1, 2, 4, 6)  # 0.5 is not > 0.5
    assert mask_box(cam, 0.4) == (1, 2, 6, 8)
    assert mask_box(cam, 0.85) == (1, 2, 2, 3)
    assert mask_box(cam, 0.95) is None


def test_scale_center_random_boxes():
    assert scale_box((10, 20, 112, 224), (224, 224), (448, 112)) == (20, 10, 224, 112)
    assert scale_box((3, 3, 4, 4), (224, 224), (32, 32)) == (0, 0, 1, 1)  # covers, >= 1 pixel
    assert scale_box((223, 0, 224, 224), (224, 224), (32, 32)) == (31, 0, 32, 32)
    assert scale_box(None, (224, 224), (32, 32)) is None
    assert center_box(32, 32) == (8, 8, 24, 24) and center_box(1, 3) == (0, 1, 1, 2)
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(4, 100, 2))
        y0, x0, y1, x1 = random_box(h, w, rng)
        assert 0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w
        assert h / 4 <= y1 - y0 <= 3 * h / 4 and w / 4 <= x1 - x0 <= 3 * w / 4


def test_box_iou_and_coverage():
    assert box_iou((0, 0, 4, 4), (0, 0, 4, 4)) == 1.0
    assert box_iou((0, 0, 4, 4), (2, 2, 6, 6)) == pytest.approx(4 / 28)
    assert box_iou((0, 0, 2, 2), (2, 2, 4, 4)) == 0.0 and box_iou(None, (0, 0, 1, 1)) == 0.0
    assert coverage((0, 0, 16, 16), 32, 32) == 0.25 and coverage(None, 32, 32) == 0.0


# ------------------------------------------------------------------ Eq. 3: compression
def test_low_res_shape_divides_each_side_by_sqrt_eta():
    assert low_res_shape(32, 32, 4) == (16, 16) and low_res_shape(224, 224, 2) == (158, 158)
    assert low_res_shape(30, 21, 9) == (10, 7) and low_res_shape(3, 3, 100) == (1, 1)
    assert low_res_shape(5, 7, 1) == (5, 7)
    with pytest.raises(ValueError):
        low_res_shape(8, 8, 0.5)


def test_resample_is_nearest_neighbour():
    rng = np.random.default_rng(0)
    x = image(rng, 32, 24)
    # eta = 4 halves each side: every 2x2 block takes its top-left pixel (explicit index arithmetic)
    ys, xs = np.meshgrid(np.arange(32) // 2 * 2, np.arange(24) // 2 * 2, indexing="ij")
    np.testing.assert_array_equal(resample(x, 4), x[ys, xs])
    # non-integer ratio: the same as cv2.resize INTER_NEAREST down then up (supplementary §1)
    y = image(rng, 30, 20)
    low = cv2.resize(y, (14, 21), interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(resample(y, 2), cv2.resize(low, (20, 30), interpolation=cv2.INTER_NEAREST))
    np.testing.assert_array_equal(resample(y, 1), y)


def test_compress_keeps_box_and_resamples_outside():
    rng = np.random.default_rng(1)
    x = image(rng, 32, 32)
    box = (5, 9, 21, 30)
    out = compress(x, box, 4)
    inside = np.zeros((32, 32), bool)
    inside[5:21, 9:30] = True
    np.testing.assert_array_equal(out[inside], x[inside])
    ys, xs = np.meshgrid(np.arange(32) // 2 * 2, np.arange(32) // 2 * 2, indexing="ij")
    np.testing.assert_array_equal(out[~inside], x[ys, xs][~inside])
    np.testing.assert_array_equal(compress(x, None, 4), x[ys, xs])
    np.testing.assert_array_equal(compress(x, (0, 0, 32, 32), 4), x)
    # Table 3 row 11: the box resampled with eta' = 2, the outside unchanged
    fg = compress(x, box, 4, eta_inner=2)
    np.testing.assert_array_equal(fg[~inside], out[~inside])
    assert (fg[inside] != x[inside]).any()
    np.testing.assert_array_equal(fg[5:21, 9:30], resample(x[5:21, 9:30], 2))


# ------------------------------------------------------------------ Eq. 4: memory cost
def test_cost_eq4():
    assert cost((0, 0, 16, 16), 32, 32, 4) == pytest.approx(0.25 + 0.75 / 4)
    assert cost((0, 0, 16, 16), 32, 32, 4, eta_inner=2) == pytest.approx(0.25 / 2 + 0.75 / 4)
    assert cost(None, 32, 32, 4) == 0.25
    assert cost((0, 0, 32, 32), 32, 32, 4) == 1.0
    assert cost((0, 0, 32, 32), 32, 32, 4, eta_inner=2) == 0.5
    assert cost((3, 3, 20, 20), 32, 32, 1) == 1.0
    assert 0.25 < cost((0, 0, 31, 32), 32, 32, 4) < 1.0


# ------------------------------------------------------------------ Eq. S1c: soft masks
def test_soft_compress_interpolates_between_image_and_downsampled():
    rng = np.random.default_rng(2)
    np_x = image(rng, 32, 32)
    x = torch.from_numpy(np_x).permute(2, 0, 1)[None].float().repeat(2, 1, 1, 1)
    x_eta = torch.from_numpy(resample(np_x, 4)).permute(2, 0, 1)[None].float()
    torch.testing.assert_close(soft_compress(x, torch.ones(2, 32, 32), 4), x)
    torch.testing.assert_close(soft_compress(x, torch.zeros(2, 32, 32), 4), x_eta.repeat(2, 1, 1, 1))
    mask = torch.full((2, 32, 32), 0.5, requires_grad=True)
    soft_compress(x, mask, 4).sum().backward()
    assert mask.grad is not None and mask.grad.abs().sum() > 0


# ------------------------------------------------------------------ compressed exemplars
def border_cells(shape_hw, box, eta):
    """Low-res cells read both inside and outside the box, and low-res rows / columns the box spans
    (an independent map of which cell every pixel reads, from cv2 directly)."""
    if box is None:
        return 0, 0
    h, w = shape_hw
    lh, lw = low_res_shape(h, w, eta)
    index = cv2.resize(np.arange(lh * lw, dtype=np.int32).reshape(lh, lw), (w, h),
                       interpolation=cv2.INTER_NEAREST)
    inside = np.zeros((h, w), bool)
    inside[box[0]:box[2], box[1]:box[3]] = True
    read_in, read_out = np.zeros(lh * lw, bool), np.zeros(lh * lw, bool)
    read_in[index[inside]], read_out[index[~inside]] = True, True
    spanned = read_in.reshape(lh, lw)
    return int((read_in & read_out).sum()), int(spanned.any(1).sum() + spanned.any(0).sum())


def random_cases(rng, n, etas, eta_inners, even=False):
    for _ in range(n):
        h, w = (int(v) for v in rng.integers(8, 64, 2))
        if even:
            h, w = h // 4 * 4, w // 4 * 4
        r = rng.random()
        box = None if r < 0.15 else (0, 0, h, w) if r < 0.3 else random_box(h, w, rng)
        if even and box is not None:
            box = tuple(v // 2 * 2 for v in box)
        yield image(rng, h, w), box, float(rng.choice(etas)), float(rng.choice(eta_inners))


def test_compressed_exemplar_decodes_bit_identical_and_is_charged_what_it_holds():
    rng = np.random.default_rng(3)
    for x, box, eta, eta_inner in random_cases(rng, 200, [1, 1.5, 2, 3, 4, 6.25, 9, 16], [1, 2, 4]):
        h, w = x.shape[:2]
        e = CompressedExemplar.encode(x, box, eta, eta_inner)
        decoded = e.decode()
        assert decoded.dtype == x.dtype
        np.testing.assert_array_equal(decoded, compress(x, box, eta, eta_inner))
        assert e.units * h * w * 3 == pytest.approx(e.nbytes, rel=1e-12)
        assert e.cells.dtype == np.uint8 and e.cells.ndim == 1
        cut, spanned = border_cells((h, w), box, eta)
        # Eq. 4's cost plus the cells the border cuts (and, for a non-integer ratio, cells a row /
        # column wider) and the metadata
        eq4 = cost(box, h, w, eta, eta_inner) * h * w * 3
        assert e.nbytes <= eq4 + 3 * (cut + spanned) + META_BYTES + 1e-6


def test_compressed_exemplar_bytes_on_uniform_cells():
    """With whole cells (eta = 4 or 16, even sizes) an exemplar holds Eq. 4's cost exactly, plus
    the cells the box border cuts (each stored whole) and the metadata."""
    rng = np.random.default_rng(4)
    for x, box, eta, eta_inner in random_cases(rng, 100, [4, 16], [1, 4], even=True):
        h, w = x.shape[:2]
        e = CompressedExemplar.encode(x, box, eta, eta_inner)
        np.testing.assert_array_equal(e.decode(), compress(x, box, eta, eta_inner))
        eq4 = cost(box, h, w, eta, eta_inner) * h * w * 3
        cut = border_cells((h, w), box, eta)[0]  # each stored as one whole 3-byte cell
        assert eq4 + META_BYTES - 1e-6 <= e.nbytes <= eq4 + META_BYTES + 3 * cut + 1e-6
        if cut == 0:
            assert e.nbytes == pytest.approx(eq4 + META_BYTES)
    whole = CompressedExemplar.encode(image(rng, 32, 32), (0, 0, 32, 32), 4)
    assert whole.cells.size == 0 and whole.nbytes == 32 * 32 * 3 + META_BYTES
    assert whole.units == pytest.approx(1 + META_BYTES / 3072)
    full = CompressedExemplar.encode(image(rng, 32, 32), None, 4)
    assert full.nbytes == 16 * 16 * 3 + META_BYTES and full.units == pytest.approx(0.25 + META_BYTES / 3072)


# ------------------------------------------------------------------ memory budget
def fill(memory, phases, per_class, boxes, eta, rng, compressed):
    """Random 32x32 images, stored plain or compressed with their boxes (``boxes[c][i]``)."""
    def add(c, share):
        images = np.stack([image(rng, 32, 32) for _ in range(per_class)])
        memory.add_class(c, images, Candidates(None, boxes[c] if compressed else None), share, rng)
    return fill_phases(memory, phases, add)


def test_compressed_memory_stays_within_budget_and_holds_more():
    rng = np.random.default_rng(5)
    phases, per_class, eta = [4, 2, 2, 2], 40, 4
    boxes = [[None if rng.random() < 0.1 else tuple(v // 2 * 2 for v in random_box(32, 32, rng))
              for _ in range(per_class)] for _ in range(sum(phases))]
    for mode, units in [("fixed", 60), ("growing", 5)]:
        plain = ExemplarMemory(Budget(mode, units), "random", RawCodec())
        memory = ExemplarMemory(Budget(mode, units), "random", CimCodec(eta))
        runs = zip(fill(plain, phases, per_class, boxes, eta, np.random.default_rng(6), False),
                   fill(memory, phases, per_class, boxes, eta, np.random.default_rng(6), True), strict=True)
        for seen, _ in runs:
            budget = memory.budget.total(seen)
            assert memory.units_used <= budget + 1e-6
            assert len(memory) > len(plain)
            assert memory.nbytes <= budget * 32 * 32 * 3 + 1e-6  # it stores what it counts
            decoded, labels = memory.exemplar_arrays()
            assert decoded.shape == (len(memory), 32, 32, 3) and len(labels) == len(memory)
