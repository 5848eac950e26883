"""The CIM plug-in inside the runtime: the bilevel step (Eq. 7-9) differentiable in φ and moving
only φ, artifact augmentation touching only D_i, compressed exemplars filling the same budget
with more images, phase-wise τ held out of training, and the Table 3 file's eleven rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from smoke_helpers import first_phase, smoke_config

from raycil.data.protocol import PhaseContext
from raycil.models.backbones import SmallImageResNet
from raycil.models.network import IncrementalNet
from raycil.plugins.assembly import make_learner
from raycil.plugins.cim.augment import ArtifactAugmentation, compressed_share
from raycil.plugins.cim.bilevel import MaskBatch, bilevel_objective, soft_masks, theta_plus
from raycil.plugins.cim.branch import MaskBranch
from raycil.plugins.cim.config import CimConfig
from raycil.plugins.cim.differentiable import soft_compress
from raycil.plugins.cim.plugin import CimPlugin
from raycil.plugins.cim.storage import META_BYTES, CompressedExemplar
from raycil.plugins.inner_steps import inner_step
from raycil.run import run_experiment
from raycil.sweep.plan import plan_sweep

ROOT = Path(__file__).resolve().parents[1]
NO_EXEMPLARS = (np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, np.int64))


def tiny_net() -> tuple[IncrementalNet, MaskBranch]:
    torch.manual_seed(0)
    net = IncrementalNet(SmallImageResNet([1, 1], [4, 6])).double()
    net.expand(3)
    return net.eval(), MaskBranch(net.backbone).double()


def tiny_batch() -> MaskBatch:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64)
    return MaskBatch(x[:4], torch.tensor([1, 2, 1, 2]), x[4:], torch.tensor([0, 0]), total=3)


def test_outer_objective_gradient_matches_finite_differences_through_the_inner_step():
    net, branch = tiny_net()
    batch = tiny_batch()
    cfg = CimConfig(boxes="cim", eta=4.0, mu=0.1, mu_prime=0.2)

    def cil_loss(x, y):
        return F.cross_entropy(net(x)["logits"], y)

    def objective() -> torch.Tensor:
        return bilevel_objective(net, branch, cil_loss, batch, cfg, beta1=0.5)[0]

    phi = list(branch.parameters())
    grads = torch.autograd.grad(objective(), phi)
    checked = 0
    for p, g in zip(phi, grads, strict=True):
        for i in range(0, p.numel(), 3):
            h = 1e-6
            with torch.no_grad():
                p.view(-1)[i] += h
            up = float(objective().detach())
            with torch.no_grad():
                p.view(-1)[i] -= 2 * h
            down = float(objective().detach())
            with torch.no_grad():
                p.view(-1)[i] += h
            numeric = (up - down) / (2 * h)
            assert abs(numeric - float(g.view(-1)[i])) <= 1e-5 + 1e-3 * abs(numeric)
            checked += 1
    assert checked > 10 and any(float(g.abs().sum()) > 0 for g in grads)


def test_inner_step_keeps_theta_plus_a_function_of_phi():
    net, branch = tiny_net()
    batch = tiny_batch()
    masks = soft_masks(net, branch, batch.x_new, batch.y_new)
    x_tilde = soft_compress(batch.x_new, masks, 4.0)
    theta = dict(net.named_parameters())
    x, y = batch.joined(x_tilde)
    loss = F.cross_entropy(net(x)["logits"], y)
    plus = inner_step(loss, theta, lr=0.1)
    d = torch.autograd.grad(plus["head.weight"].sum(), list(branch.parameters()), allow_unused=True)
    assert any(g is not None and float(g.abs().sum()) > 0 for g in d)


@pytest.mark.parametrize("classifier", [False, True])
def test_inner_step_fixes_the_classifier_unless_asked_and_phi_still_learns(classifier):
    """Eq. 7 steps the feature extractor θ with the classifier ω fixed (the default);
    ``inner_step_classifier`` steps ω too. Either way CE(D_i; θ⁺, ω) depends on φ through θ⁺."""
    net, branch = tiny_net()
    batch = tiny_batch()
    cfg = CimConfig(boxes="cim", mu=0.0, mu_prime=0.0, inner_step_classifier=classifier)

    def cil_loss(x, y):
        return F.cross_entropy(net(x)["logits"], y)

    x_tilde = soft_compress(batch.x_new, soft_masks(net, branch, batch.x_new, batch.y_new), 4.0)
    plus = theta_plus(net, cil_loss, batch, x_tilde, cfg, beta1=0.5)
    head = {id(p) for p in net.head.parameters()}
    for name, p in net.named_parameters():
        moved = not torch.equal(plus[name], p)
        assert moved == (classifier or id(p) not in head), name
    grads = torch.autograd.grad(bilevel_objective(net, branch, cil_loss, batch, cfg, 0.5)[0],
                                list(branch.parameters()))
    assert any(float(g.abs().sum()) > 0 for g in grads)  # μ = μ′ = 0: only through θ⁺


@pytest.mark.slow
def test_phi_update_moves_only_phi_and_keeps_batch_norm_statistics():
    cfg = smoke_config(cim={"boxes": "cim"})
    learner = make_learner(cfg)
    ctx = PhaseContext(1, 3, 0, 2)
    learner.method.before_phase(learner, ctx)
    [plugin] = learner.plugins
    assert isinstance(plugin, CimPlugin)
    new = learner.data.train.of_classes(ctx.new_classes)
    hooks = plugin.phase_hooks(learner, ctx, new, NO_EXEMPLARS)
    learner.model.train()
    theta = {k: v.detach().clone() for k, v in learner.model.state_dict().items()}
    phi = [p.detach().clone() for p in plugin.branch.parameters()]
    hooks.on_epoch_end(0, 1, lr_ratio=1.0)
    after = learner.model.state_dict()
    assert all(torch.equal(theta[k], after[k]) for k in theta)  # weights and BN buffers
    moved = [not torch.equal(a, b) for a, b in zip(phi, plugin.branch.parameters(), strict=True)]
    assert any(moved)


def test_learning_phi_leaves_the_cil_model_exactly_as_without_it():
    """Rows 6 (CAM boxes) and 9 (BOP) train θ identically in phase 1: the φ steps draw their own
    batches and restore everything of θ (common random numbers across the Table 3 rows)."""
    models = []
    for boxes in ("cam", "cim"):
        cfg = smoke_config(cim={"boxes": boxes, "artifact_aug": True}, train={"epochs_first": 3})
        learner = make_learner(cfg)
        learner.train_phase(PhaseContext(1, 3, 0, 2), NO_EXEMPLARS)
        models.append(learner.model.state_dict())
        if boxes == "cim":
            assert learner.plugins[0].branch is not None
            assert learner.plugins[0].stats()["cim_phi_steps"] == 3  # Algorithm 1: one per epoch
        else:
            assert "cim_phi_steps" not in learner.plugins[0].stats()
    assert all(torch.equal(models[0][k], models[1][k]) for k in models[0])


def test_cim_local_profile_states_its_phi_steps():
    """configs/cim.yaml: BOP takes ``outer_steps`` φ updates per epoch (Algorithm 1, lines 5-7), so
    a later phase of the local profile makes 8 where the paper's 170 epochs make 170."""
    from raycil.config import load_config

    cfg = load_config(ROOT / "configs" / "cim.yaml")
    assert cfg.cim.mask_learning == "bilevel" and cfg.cim.outer_steps * cfg.train.epochs >= 8


def test_artifact_periods_rescale_to_the_phase_or_stay_in_epochs():
    """Rescaled (the default), a 200-epoch first phase steps every round(40 x 200 / 170) = 47
    epochs; with ``artifact_rescale: false`` every 40, as the paper's supplementary §1 in every phase."""
    rescaled, paper = CimConfig(artifact_aug=True), CimConfig(artifact_aug=True, artifact_rescale=False)
    epochs = (0, 39, 40, 46, 47, 80, 199)
    assert [compressed_share(e, 200, rescaled) for e in epochs] == pytest.approx([0, 0, 0, 0, 0.1, 0.1, 0.4])
    assert [compressed_share(e, 200, paper) for e in epochs] == pytest.approx([0, 0, 0.1, 0.1, 0.1, 0.2, 0.4])
    assert [compressed_share(e, 170, paper) for e in (0, 40, 169)] == \
        [compressed_share(e, 170, rescaled) for e in (0, 40, 169)]
    assert [compressed_share(e, 20, paper) for e in (0, 19)] == [0, 0]  # a 20-epoch phase never reaches 40


def test_artifact_augmentation_compresses_a_growing_share_of_new_data_only():
    cfg = CimConfig(artifact_aug=True)
    paper = [compressed_share(e, 170, cfg) for e in (0, 39, 40, 80, 169)]
    assert paper == pytest.approx([0, 0, 0.1, 0.2, 0.4])
    assert [compressed_share(e, 20, cfg) for e in (0, 4, 5, 19)] == pytest.approx([0, 0, 0.1, 0.3])
    learner = make_learner(smoke_config(cim={"artifact_aug": True}))
    learner.model.expand(2)
    new = learner.data.train.of_classes([0, 1])
    ex = learner.data.train.of_classes([2])
    images = np.concatenate([new.images, ex.images])
    source = learner.batches(images, np.concatenate([new.labels, ex.labels]), train=True)
    aug = ArtifactAugmentation(learner.cfg.cim, new.images, new.labels, np.random.default_rng(0))
    aug.on_epoch_start(learner, source, epoch=15, epochs=20)       # share 0.3
    changed = [i for i in range(len(images)) if not np.array_equal(source.image(i), images[i])]
    assert len(source.overrides) == round(0.3 * len(new)) and set(changed) <= set(source.overrides)
    assert all(i < len(new) for i in source.overrides)
    aug.on_epoch_start(learner, source, epoch=0, epochs=20)
    assert not source.overrides and torch.equal(source.images, source.original)


def test_compressed_memory_holds_more_exemplars_within_the_same_budget():
    plain = run_experiment(smoke_config(), None, verbose=False)["phases"]
    boxed = run_experiment(smoke_config(cim={"boxes": "center", "artifact_aug": True}), None,
                           verbose=False)["phases"]
    for p, b in zip(plain, boxed, strict=True):
        assert b["memory_units"] <= 24 + 1e-6
        assert b["exemplars"] > p["exemplars"]
        assert b["box_coverage"] == pytest.approx(0.25)
        # the centre box is aligned to the 2x2 cells: Eq. 4's cost plus the 14 metadata bytes
        assert b["units_per_exemplar"] == pytest.approx(0.25 + 0.75 / 4 + META_BYTES / 3072)
        assert b["memory_bytes"] == pytest.approx(b["memory_units"] * 3072)


def test_cim_boxes_come_from_the_learned_branch_and_are_scored_against_true_boxes():
    cfg = smoke_config(cim={"boxes": "cim", "artifact_aug": True},
                       protocol={"num_phases": 2}, dataset={"num_classes": 4})
    result = run_experiment(cfg, None, verbose=False)["phases"]
    for phase in result:
        assert 0 <= phase["cim_iou"] <= 1 and 0 <= phase["cam_iou"] <= 1
        assert 0 < phase["true_box_coverage"] < 1 and phase["memory_units"] <= 24 + 1e-6


def test_phase_wise_tau_holds_out_a_tenth_of_new_data_and_picks_from_the_grid():
    cfg = smoke_config(cim={"boxes": "cam", "phase_wise_tau": True, "tau_grid": [0.5, 0.7]})
    learner = make_learner(cfg)
    ctx = PhaseContext(1, 3, 0, 2)
    new = learner.data.train.of_classes(ctx.new_classes)
    [plugin] = learner.plugins
    kept = plugin.phase_data(ctx, new)
    assert len(kept) + len(plugin.holdout) == len(new) and len(plugin.holdout) == 4
    learner.method.before_phase(learner, ctx)
    assert plugin.pick_tau(learner, ctx) in (0.5, 0.7)


def test_stored_exemplars_are_compressed_and_decode_to_images():
    _, memory, _ = first_phase(smoke_config(cim={"boxes": "full"}))
    stored = memory.memory.stored
    unit = 0.25 + META_BYTES / 3072  # a 16x16 image and its box and shape
    assert stored and all(isinstance(e, CompressedExemplar) for e in stored)
    assert [e.units for e in stored] == pytest.approx([unit] * len(stored))
    images, labels = memory.exemplars()
    # a share of 12 units per class holds 45 whole-image-downsampled exemplars: all 20 candidates
    assert images.shape[1:] == (32, 32, 3) and len(labels) == len(stored) == 40
    assert memory.memory.units_used == pytest.approx(40 * unit)


def test_table3_file_expands_the_eleven_rows_in_order():
    plan = plan_sweep(ROOT / "ablations/cim_table3.yaml", "local")
    rows = list(dict.fromkeys(t.variant for t in plan.trials))
    assert rows == ["1-Baseline", "2-ArtifactAug", "3-FullComp", "4-RandomActi", "5-CenterActi",
                    "6-ClassActi", "7-PhaseWiseTau", "8-JointTrain", "9-BOP", "10-LastBlockOnly",
                    "11-FgCompressed"]
    assert len(plan.trials) == 11 * 3
    cims = {t.variant: plan.experiment_config(t).cim for t in plan.trials if t.seed == 0}
    assert {v: c.boxes for v, c in cims.items()} == {
        "1-Baseline": "none", "2-ArtifactAug": "none", "3-FullComp": "full", "4-RandomActi": "random",
        "5-CenterActi": "center", "6-ClassActi": "cam", "7-PhaseWiseTau": "cam", "8-JointTrain": "cim",
        "9-BOP": "cim", "10-LastBlockOnly": "cim", "11-FgCompressed": "cim"}
    assert not cims["1-Baseline"].artifact_aug
    assert all(c.artifact_aug for v, c in cims.items() if v != "1-Baseline")
    assert cims["7-PhaseWiseTau"].phase_wise_tau and cims["8-JointTrain"].mask_learning == "joint"
    assert cims["10-LastBlockOnly"].last_block_only and cims["11-FgCompressed"].eta_inner == 2.0
    assert {plan.experiment_config(t).method.name for t in plan.trials} == {"icarl"}
    paper = plan_sweep(ROOT / "ablations/cim_table3.yaml", "smoke", {"method.name": "foster"})
    assert {paper.experiment_config(t).method.name for t in paper.trials} == {"foster"}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["foster", "der", "lucir"])
def test_cim_plugs_into_the_strong_baselines_through_the_memory(method):
    cfg = smoke_config(method={"name": method}, cim={"boxes": "cim", "artifact_aug": True},
                       protocol={"num_phases": 2}, dataset={"num_classes": 4})
    phases = run_experiment(cfg, None, verbose=False)["phases"]
    assert len(phases) == 2 and all(p["units_per_exemplar"] < 1 for p in phases)
    assert all(p["memory_units"] <= 24 + 1e-6 and p["exemplars"] > 24 for p in phases)
