"""The learner side of the CIM plug-in (Luo et al., CVPR 2023): it composes with any CIL method
through the seam's training-loop hooks and the exemplar candidates it hands to the memory,
never through method-specific code.

Per phase (Algorithm 1): optionally hold out a share of D_i to pick τ (Table 3 row 7); during
training, artifact augmentation (§4.1) and the mask-level optimization of φ (per epoch, bilevel,
Eq. 5-9; or per batch, joint, row 8); after training, box every new-class candidate (Eq. 1-2),
compress it (Eq. 3) and embed the compressed image, so herding ranks what will be stored; the
memory's :class:`~raycil.plugins.cim.storage.CimCodec` stores it with that box. The pass that computes
the candidates' CIM maps also gives the report's plain CAM boxes (the same network state, the
same batches); the artifact augmentation's boxes are maps of the network during training, so they
come from their own passes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from raycil.data.imageset import ImageSet, decoded, stack_images
from raycil.data.protocol import PhaseContext
from raycil.learner.batches import BatchSource
from raycil.memory.codec import Candidates
from raycil.memory.store import Exemplars
from raycil.models.backbones import Backbone
from raycil.plugins.cim.augment import ArtifactAugmentation
from raycil.plugins.cim.bilevel import (
    MaskBatch,
    Objective,
    PhiOptimizer,
    bilevel_objective,
    joint_objective,
)
from raycil.plugins.cim.boxes import (
    activation_maps,
    boxes_from_maps,
    class_activation_maps,
    fixed_boxes,
    image_shapes,
)
from raycil.plugins.cim.branch import MaskBranch
from raycil.plugins.cim.compression import Box, box_iou, compress, coverage
from raycil.plugins.cim.config import CimConfig
from raycil.plugins.inner_steps import kept_buffers
from raycil.plugins.seam import LearnerHost, LearnerPlugin, PhaseCandidates, TrainingHooks

if TYPE_CHECKING:
    from raycil.experiment import Experiment


def compress_all(images: Any, boxes: list[Box | None], eta: float, eta_inner: float) -> Any:
    """Eq. 3 on every image with its box (one array when all have one shape)."""
    return stack_images([compress(im, b, eta, eta_inner) for im, b in zip(images, boxes, strict=True)])


def top1(host: LearnerHost, images: Any, labels: np.ndarray, total: int) -> float:
    """Top-1 accuracy (%) of the CIL model's classifier over the first ``total`` classes."""
    def hits(x: torch.Tensor, y: torch.Tensor) -> int:
        return int((host.model(x)["logits"][:, :total].argmax(1) == y).sum())

    return 100.0 * sum(host.infer(images, labels, hits)) / max(1, len(labels))


def xyxy_to_box(b: np.ndarray) -> Box:
    """A dataset box (x0, y0, x1, y1) as a compression box (y0, x0, y1, x1)."""
    return int(b[1]), int(b[0]), int(b[3]), int(b[2])


class PhaseHooks(TrainingHooks):
    """The training-loop hooks of one phase: artifact augmentation and φ's updates."""

    def __init__(self, plugin: CimPlugin, host: LearnerHost, ctx: PhaseContext, new: ImageSet,
                 exemplars: Exemplars):
        self.plugin, self.host, self.ctx = plugin, host, ctx
        c = plugin.settings
        rng = np.random.default_rng([plugin.seed, ctx.phase, 17])
        self.artifacts = None
        if c.artifact_aug:
            self.artifacts = ArtifactAugmentation(c, decoded(new.images), new.labels, rng)
        # φ's batches come from their own generator: the CIL model's batches stay those of a run
        # without the plug-in (common random numbers across the Table 3 rows)
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        augment = host.data.augment
        self.new = BatchSource(new.images, new.labels, host.device, True, generator, augment=augment)
        ex_images, ex_labels = exemplars
        self.exemplars = None
        if len(ex_labels):
            self.exemplars = BatchSource(ex_images, ex_labels, host.device, True, generator, augment=augment)

    def cil_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.host.loss(x, y, self.ctx)

    def on_epoch_start(self, source: BatchSource, epoch: int, epochs: int) -> None:
        if self.artifacts is not None:
            self.artifacts.on_epoch_start(self.host, source, epoch, epochs)

    def after_step(self, x: torch.Tensor, y: torch.Tensor, lr_ratio: float) -> None:
        """Joint training (row 8): one φ update on the step's own batch."""
        if self.plugin.mask_learning == "joint":
            old = y < self.ctx.known
            batch = MaskBatch(x[~old], y[~old], x[old], y[old], self.ctx.total)
            if len(batch.y_new):
                objective = partial(joint_objective, self.host.model, self.plugin.branch, batch,
                                    self.plugin.settings)
                self.plugin.update_phi(self.host, objective, lr_ratio)

    def on_epoch_end(self, epoch: int, epochs: int, lr_ratio: float) -> None:
        """BOP (rows 9-11): after the epoch's θ updates, ``outer_steps`` φ updates (Eq. 7-9)."""
        if self.plugin.mask_learning != "bilevel":
            return
        c = self.plugin.settings
        for _ in range(c.outer_steps):
            x_new, y_new = self.new.sample(c.outer_batch_size)
            if self.exemplars is not None:
                x_mem, y_mem = self.exemplars.sample(c.outer_batch_size)
            else:
                x_mem, y_mem = x_new[:0], y_new[:0]
            batch = MaskBatch(x_new, y_new, x_mem, y_mem, self.ctx.total)
            objective = partial(bilevel_objective, self.host.model, self.plugin.branch, self.cil_loss,
                                batch, c, c.beta1 * lr_ratio)
            self.plugin.update_phi(self.host, objective, lr_ratio)


class CimPlugin(LearnerPlugin):
    """CIM state that lives with the learner: the mask branch φ, the phase's τ and its stats."""

    def __init__(self, settings: CimConfig, cfg: Experiment):
        self.settings = settings
        self.seed = cfg.seed
        self.branch: MaskBranch | None = None
        self.phi_optimizer: PhiOptimizer | None = None  # plain SGD: stateless, so kept across steps
        self.tau = self.settings.tau
        self.holdout: ImageSet | None = None
        self.last_stats: dict[str, float] = {}
        self.phi_steps = 0  # φ updates in the phase (Algorithm 1 line 7: one per epoch x outer_steps)

    @property
    def mask_learning(self) -> str | None:
        return self.settings.mask_learning if self.settings.learns_masks else None

    # ------------------------------------------------------------------ training
    def phase_data(self, ctx: PhaseContext, data: ImageSet) -> ImageSet:
        """D_i minus the held-out share used to pick τ (row 7); D_i unchanged otherwise."""
        if not self.settings.phase_wise_tau:
            return data
        rng = np.random.default_rng([self.seed, ctx.phase, 29])
        held = np.zeros(len(data), bool)
        for c in np.unique(data.labels):
            idx = np.flatnonzero(data.labels == c)
            held[rng.choice(idx, size=max(1, round(self.settings.holdout * len(idx))), replace=False)] = True
        self.holdout = data.subset(np.flatnonzero(held))
        return data.subset(np.flatnonzero(~held))

    def phase_hooks(self, host: LearnerHost, ctx: PhaseContext, new: ImageSet,
                    exemplars: Exemplars) -> PhaseHooks:
        if self.settings.learns_masks and self.branch is None:
            template = next(m for m in host.model.modules() if isinstance(m, Backbone))
            self.branch = MaskBranch(template, self.settings.last_block_only).to(host.device)
        self.phi_steps = 0
        return PhaseHooks(self, host, ctx, new, exemplars)

    def update_phi(self, host: LearnerHost, objective: Callable[[], Objective], lr_ratio: float) -> None:
        """One step on φ (clipped, β2 annealed); θ and batch-norm statistics stay as they were."""
        assert self.branch is not None
        if self.phi_optimizer is None or self.phi_optimizer.branch is not self.branch:
            self.phi_optimizer = PhiOptimizer(self.branch, self.settings)
        with kept_buffers(host.model):
            loss, _ = objective()
            self.phi_optimizer.step(loss, lr_ratio)
        self.phi_steps += 1

    # ------------------------------------------------------------------ exemplar candidates
    def maps(self, host: LearnerHost, images: Any, labels: np.ndarray, learned: bool) -> np.ndarray:
        return class_activation_maps(host, images, labels, self.branch if learned else None)

    def pick_tau(self, host: LearnerHost, ctx: PhaseContext) -> float:
        """Row 7: the largest τ of the grid whose compressed held-out images keep the model's
        accuracy within ``tau_tolerance`` points of the originals'."""
        c, held = self.settings, self.holdout
        assert held is not None
        images = decoded(held.images)
        shapes = image_shapes(images)
        maps = self.maps(host, held.images, held.labels, c.boxes == "cim")
        base = top1(host, held.images, held.labels, ctx.total)
        for tau in sorted(c.tau_grid, reverse=True):
            boxes = boxes_from_maps(maps, tau, shapes)
            comp = compress_all(images, boxes, c.eta, c.eta_inner)
            if top1(host, comp, held.labels, ctx.total) >= base - c.tau_tolerance:
                return tau
        return min(c.tau_grid)

    def boxes(self, host: LearnerHost, images: Any, labels: np.ndarray, shapes: list[tuple[int, int]],
              rng: np.random.Generator, scored: bool) -> tuple[list[Box | None], list[Box | None] | None]:
        """Every image's box and, when ``scored`` (boxes from maps only), the CIL model's CAM boxes
        of the same images for the report's ``cam_iou``: with ``cam`` the candidates' own boxes;
        with ``cim`` the CIL model runs on the same batches as the CIM branch, in one pass over
        the images (the same network state, so these are the boxes a separate pass would give)."""
        kind = self.settings.boxes
        if kind not in ("cam", "cim"):
            return fixed_boxes(kind, shapes, rng), None
        learned = kind == "cim"
        branches = [self.branch if learned else None] + ([None] if learned and scored else [])
        maps = activation_maps(host, images, labels, branches)
        boxes = boxes_from_maps(maps[0], self.tau, shapes)
        if not scored:
            return boxes, None
        return boxes, boxes_from_maps(maps[1], self.tau, shapes) if learned else boxes

    def candidates(self, host: LearnerHost, ctx: PhaseContext, with_features: bool) -> PhaseCandidates | None:
        """Per new class: each training image's box (the codec's argument) and, for herding, the
        embedding of its compressed version (Algorithm 1 lines 9-10). One class at a time: its
        images are decoded once and each network runs once per image (the CIM branch with the
        plain CAMs of the report beside it, then the embedding of the compressed images)."""
        c = self.settings
        if c.boxes == "none":
            self.last_stats = {}
            return None
        if c.phase_wise_tau:
            self.tau = self.pick_tau(host, ctx)
        rng = np.random.default_rng([self.seed, ctx.phase, 31])
        out: dict[int, Candidates[Box | None]] = {}
        seen: dict[str, list[float]] = {"candidate_box_coverage": [], "true_box_coverage": [],
                                        "cam_iou": [], "cim_iou": []}
        for cls in ctx.new_classes:
            data = host.data.train.of_classes([cls])
            images = decoded(data.images)
            shapes = image_shapes(images)
            boxes, cam_boxes = self.boxes(host, images, data.labels, shapes, rng, data.boxes is not None)
            feats = None
            if with_features:
                feats = host.embed(compress_all(images, boxes, c.eta, c.eta_inner)).cpu().numpy()
            out[cls] = Candidates(feats, boxes)
            seen["candidate_box_coverage"] += [coverage(b, *hw) for b, hw in zip(boxes, shapes, strict=True)]
            if data.boxes is not None:
                self.score_boxes(data.boxes, boxes, cam_boxes, shapes, seen)
        self.last_stats = {"tau": float(self.tau), **{k: float(np.mean(v)) for k, v in seen.items() if v}}
        return out

    def score_boxes(self, true_boxes: np.ndarray, boxes: list[Box | None],
                    cam_boxes: list[Box | None] | None, shapes: list[tuple[int, int]],
                    seen: dict[str, list[float]]) -> None:
        """IoU of the CAM boxes (and the CIM boxes when φ is learned) with the true object boxes
        of the generated data (``true_boxes``, x0 y0 x1 y1), and the true boxes' coverage (Table 5's
        object size). ``cam_boxes``: the CIL model's CAM boxes of the same images (computed with
        the candidates' maps, never here); None for fixed boxes."""
        truth = [xyxy_to_box(b) for b in true_boxes]
        seen["true_box_coverage"] += [coverage(b, *hw) for b, hw in zip(truth, shapes, strict=True)]
        if cam_boxes is None:
            return
        seen["cam_iou"] += [box_iou(a, b) for a, b in zip(cam_boxes, truth, strict=True)]
        if self.settings.boxes == "cim":
            seen["cim_iou"] += [box_iou(a, b) for a, b in zip(boxes, truth, strict=True)]

    def stats(self) -> dict[str, float]:
        """The exemplars' statistics of the phase and, where φ is learned, ``cim_phi_steps``."""
        steps = {"cim_phi_steps": float(self.phi_steps)} if self.settings.learns_masks else {}
        return {**self.last_stats, **steps}

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        branch = copy.deepcopy(self.branch).cpu() if self.branch is not None else None
        return {"branch": branch, "tau": self.tau}

    def load_state(self, state: dict[str, Any], device: torch.device) -> None:
        self.branch = state["branch"].to(device) if state["branch"] is not None else None
        self.tau = state["tau"]
