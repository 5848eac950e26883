"""CIM's exemplar candidates compute every map once: one pass over a class's images runs the CIM
branch and (for the report's ``cam_iou``) the CIL model on the same batches, ``score_boxes`` runs
no network, and the shared maps are those separate passes give. φ's optimizer, kept across
steps, steps as fresh ones would."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from smoke_helpers import smoke_config

from raycil.data.protocol import PhaseContext
from raycil.models.activations import activation_slots
from raycil.models.backbones import SmallImageResNet
from raycil.models.network import IncrementalNet
from raycil.plugins.assembly import make_learner
from raycil.plugins.cim.bilevel import PhiOptimizer
from raycil.plugins.cim.boxes import activation_maps, boxes_from_maps, class_activation_maps, image_shapes
from raycil.plugins.cim.branch import MaskBranch
from raycil.plugins.cim.compression import box_iou
from raycil.plugins.cim.config import CimConfig
from raycil.plugins.cim.plugin import CimPlugin, compress_all, xyxy_to_box

NO_EXEMPLARS = (np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, np.int64))
CTX = PhaseContext(1, 3, 0, 2)


@pytest.fixture(scope="module")
def trained():
    """A BOP learner (CIM boxes, artifact augmentation) after a first phase of 2 classes."""
    cfg = smoke_config(cim={"boxes": "cim", "artifact_aug": True}, train={"epochs_first": 2})
    learner = make_learner(cfg)
    learner.train_phase(CTX, NO_EXEMPLARS)
    [plugin] = learner.plugins
    assert isinstance(plugin, CimPlugin) and plugin.branch is not None
    return learner, plugin


def test_candidates_run_each_network_once_per_image_and_score_boxes_none(trained, monkeypatch):
    learner, plugin = trained
    calls: list[tuple[str, int]] = []
    scoring = [False]

    def count(module, args):
        branch = any(s.override is not None for s in activation_slots(learner.model.backbone))
        calls.append(("score_boxes" if scoring[0] else "branch" if branch else "cil", len(args[0])))

    score_boxes = CimPlugin.score_boxes

    def flagged(self, *args, **kwargs):
        scoring[0] = True
        try:
            return score_boxes(self, *args, **kwargs)
        finally:
            scoring[0] = False

    monkeypatch.setattr(CimPlugin, "score_boxes", flagged)
    handle = learner.model.register_forward_pre_hook(count)
    try:
        candidates = learner.exemplar_candidates(CTX, with_features=True)
    finally:
        handle.remove()
    sizes = [len(learner.data.train.of_classes([c])) for c in CTX.new_classes]
    assert sorted(candidates) == list(CTX.new_classes)
    # per class (each fits one evaluation batch): the CIM maps and, in the same pass, the plain
    # CAMs of the same images for the report, then the embeddings of the compressed images;
    # score_boxes runs no network (it used to recompute the plain CAMs in a pass of its own)
    assert calls == [call for n in sizes for call in (("branch", n), ("cil", n), ("cil", n))]
    assert {"cam_iou", "cim_iou", "true_box_coverage"} <= set(plugin.stats())


def test_shared_maps_equal_separately_computed_ones(trained):
    learner, plugin = trained
    data = learner.data.train.of_classes(CTX.new_classes)
    shared = activation_maps(learner, data.images, data.labels, [plugin.branch, None])
    alone = [class_activation_maps(learner, data.images, data.labels, plugin.branch),
             class_activation_maps(learner, data.images, data.labels)]
    assert all(np.array_equal(a, b) for a, b in zip(shared, alone, strict=True))
    assert not np.array_equal(shared[0], shared[1])  # two networks: the PAUs have learned

    # the candidates and the report's IoUs against maps computed in separate passes, class by class
    candidates = learner.exemplar_candidates(CTX, with_features=True)
    stats = plugin.stats()
    c = plugin.settings
    cam_iou, cim_iou = [], []
    for cls in CTX.new_classes:
        one = learner.data.train.of_classes([cls])
        shapes = image_shapes(one.images)
        cim_boxes, cam_boxes = (boxes_from_maps(class_activation_maps(learner, one.images, one.labels, b),
                                                plugin.tau, shapes) for b in (plugin.branch, None))
        assert list(candidates[cls].codec_args) == cim_boxes
        feats = learner.embed(compress_all(one.images, cim_boxes, c.eta, c.eta_inner)).numpy()
        assert np.array_equal(candidates[cls].features, feats)
        truth = [xyxy_to_box(b) for b in one.boxes]
        cam_iou += [box_iou(b, t) for b, t in zip(cam_boxes, truth, strict=True)]
        cim_iou += [box_iou(b, t) for b, t in zip(cim_boxes, truth, strict=True)]
    assert cam_iou != cim_iou
    assert stats["cam_iou"] == np.mean(cam_iou) and stats["cim_iou"] == np.mean(cim_iou)


def test_phi_optimizer_kept_across_steps_steps_as_fresh_ones_would():
    torch.manual_seed(0)
    net = IncrementalNet(SmallImageResNet([1, 1], [4, 6])).double()
    net.expand(3)
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    kept, fresh = MaskBranch(net.backbone).double(), MaskBranch(net.backbone).double()
    fresh.load_state_dict(kept.state_dict())
    cfg = CimConfig(boxes="cim")

    def objective(branch: MaskBranch) -> torch.Tensor:
        with branch.active(net):
            return net(x)["logits"].pow(2).mean()

    opt = PhiOptimizer(kept, cfg)
    for ratio in (1.0, 0.5, 0.25):
        opt.step(objective(kept), ratio)
        PhiOptimizer(fresh, cfg).step(objective(fresh), ratio)
    assert all(torch.equal(a, b) for a, b in zip(kept.parameters(), fresh.parameters(), strict=True))
    start = MaskBranch(net.backbone).double()
    assert not all(torch.equal(a, b) for a, b in zip(kept.parameters(), start.parameters(), strict=True))

