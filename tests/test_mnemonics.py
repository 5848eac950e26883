"""Mnemonics (Liu et al., CVPR 2020): the exemplar-level bilevel step (Eq. 8-9) puts a gradient
through the inner gradient steps onto the exemplar pixels, the old exemplars are adjusted fold
against fold (Eq. 10), and the memory stores the learned images, charged their bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from smoke_helpers import first_phase, smoke_config
from torch import nn

from raycil.config import ConfigError, build_config, load_config
from raycil.data.protocol import PhaseContext
from raycil.plugins.mnemonics.bilevel import (
    ExemplarSchedule,
    ExemplarSGD,
    adjust_old_exemplars,
    fold_ids,
    meta_loss,
    train_new_exemplars,
)
from raycil.plugins.mnemonics.plugin import MnemonicsPlugin
from raycil.plugins.mnemonics.storage import TensorCodec, to_storage
from raycil.run import run_experiment

ROOT = Path(__file__).resolve().parents[1]


class TinyNet(nn.Module):
    """conv -> tanh -> pool -> linear, returning the CIL network's ``logits`` (smooth: exact
    second derivatives for the finite-difference check)."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.fc(torch.tanh(self.conv(x)).mean(dim=(2, 3)))}


def tiny_problem(seed: int = 0):
    torch.manual_seed(seed)
    model = TinyNet().double()
    exemplars = torch.randn(6, 3, 5, 5, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    x_val, y_val = torch.randn(8, 3, 5, 5, dtype=torch.float64), torch.randint(0, 3, (8,))
    return model, exemplars, labels, x_val, y_val


@pytest.mark.parametrize("unroll", [1, 3])
def test_meta_gradient_reaches_the_pixels_and_matches_finite_differences(unroll):
    """The validation loss depends on E only through Θ′ (Eq. 9): a non-zero gradient on the
    pixels is a gradient through the inner gradients, and it is the true derivative."""
    model, e, y, x_val, y_val = tiny_problem()

    def loss(ex: torch.Tensor) -> torch.Tensor:
        return meta_loss(model, ex, y, x_val, y_val, total=3, alpha2=0.5, steps=unroll)

    param = e.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(param), [param])
    assert grad.abs().max() > 1e-4
    rng = np.random.default_rng(0)
    for flat in rng.choice(e.numel(), 12, replace=False):
        h = torch.zeros_like(e).view(-1)
        h[flat] = 1e-5
        h = h.view_as(e)
        numeric = (loss(e + h) - loss(e - h)).detach() / 2e-5
        assert float(grad.view(-1)[flat]) == pytest.approx(float(numeric), rel=1e-4, abs=1e-9)
    assert all(p.grad is None for p in model.parameters())  # Θ_i itself is untouched


def schedule(epochs: int = 3, lr: float = 0.5) -> ExemplarSchedule:
    return ExemplarSchedule(epochs=epochs, lr=lr, halve_every=2, alpha2=0.5, unroll=1, batch_size=4)


def test_training_new_exemplars_lowers_the_loss_of_the_temporary_model_on_the_data():
    model, e, y, x_val, y_val = tiny_problem(1)
    before = float(meta_loss(model, e, y, x_val, y_val, 3, 0.5, 1).detach())
    param = nn.Parameter(e.clone())
    fit = train_new_exemplars(model, param, y, x_val, y_val, 3, schedule(epochs=20, lr=2.0),
                              torch.Generator().manual_seed(0))
    after = float(meta_loss(model, param.detach(), y, x_val, y_val, 3, 0.5, 1).detach())
    assert after < before and fit.losses[-1] < fit.losses[0]
    assert fit.updates == 20 * -(-len(y_val) // 4)
    assert schedule().lr_at(0) == 0.5 and schedule().lr_at(1) == 0.5 and schedule().lr_at(2) == 0.25


def test_old_exemplars_are_adjusted_fold_against_fold():
    """Eq. 10: both halves change, and the step of one half takes no gradient to the other (its
    validation data) nor any loss on its own images."""
    model, e, y, _, _ = tiny_problem(2)
    folds = fold_ids(y.numpy(), 2)
    np.testing.assert_array_equal(folds, [0, 1, 0, 1, 0, 1])
    a, b = torch.as_tensor(folds == 0), torch.as_tensor(folds == 1)
    param = nn.Parameter(e.clone())
    loss = meta_loss(model, param[a], y[a], param[b].detach(), y[b], 3, 0.5, 1)
    (grad,) = torch.autograd.grad(loss, [param])
    assert grad[a].abs().max() > 0 and grad[b].abs().max() == 0
    adjusted = e.clone()
    adjust_old_exemplars(model, adjusted, y, folds, 3, schedule(epochs=1), torch.Generator().manual_seed(0))
    moved = (adjusted - e).abs().amax(dim=(1, 2, 3))
    assert (moved[a] > 0).all() and (moved[b] > 0).all()
    # a half's update depends on the other half only: its own images as validation would change it
    param2 = nn.Parameter(e.clone())
    loss_self = meta_loss(model, param2[a], y[a], param2[a].detach(), y[a], 3, 0.5, 1)
    (grad_self,) = torch.autograd.grad(loss_self, [param2])
    assert not torch.allclose(grad_self[a], grad[a])


def test_exemplar_sgd_is_torch_sgd_with_momentum_and_weight_decay():
    """The exemplar step (§7.1's SGD) matches torch.optim.SGD step for step; without momentum and
    weight decay it is the plain E ← E − lr ∇E."""
    torch.manual_seed(3)
    target = torch.randn(2, 3)
    ours = nn.Parameter(torch.randn(2, 3))
    theirs = nn.Parameter(ours.detach().clone())
    sgd = ExemplarSGD(0.9, 5e-4)
    reference = torch.optim.SGD([theirs], lr=0.1, momentum=0.9, weight_decay=5e-4)
    for lr in (0.1, 0.1, 0.05):
        sgd.step(ours, ((ours - target) ** 2).sum(), lr)
        for group in reference.param_groups:
            group["lr"] = lr
        reference.zero_grad()
        ((theirs - target) ** 2).sum().backward()
        reference.step()
        assert torch.allclose(ours, theirs, atol=1e-7)
    plain, start = nn.Parameter(torch.ones(3)), torch.ones(3)
    ExemplarSGD(0.0, 0.0).step(plain, (plain * torch.arange(3.0)).sum(), 0.5)
    assert torch.equal(plain.detach(), start - 0.5 * torch.arange(3.0))


def test_mnemonics_local_profile_runs_the_papers_exemplar_schedule():
    """configs/mnemonics.yaml at its local size: the paper's 50 exemplar epochs halved every 10
    (§7.1) in every phase, whatever the model epochs, so a later phase makes at least 100
    exemplar updates (50 epochs x 2 batches of D_i), with momentum; ``rescale`` is the old
    miniature (2 epochs: 4 updates)."""
    cfg = load_config(ROOT / "configs" / "mnemonics.yaml")
    plugin = MnemonicsPlugin(cfg.mnemonics, cfg)
    later = PhaseContext(2, 6, 10, 12)
    sched = plugin.schedule(later, cfg.mnemonics.beta1)
    d_i = 2 * cfg.dataset.train_per_class
    updates = sched.epochs * -(-d_i // cfg.train.batch_size)
    assert (sched.epochs, sched.halve_every, sched.momentum, sched.weight_decay) == (50, 10, 0.9, 5e-4)
    assert updates >= 100
    old = MnemonicsPlugin(cfg.mnemonics.model_copy(update={"rescale": True}), cfg).schedule(later, 0.01)
    assert old.epochs * -(-d_i // cfg.train.batch_size) == 4


def test_storage_rounds_or_keeps_floats_and_charges_the_bytes():
    pixels = np.full((4, 4, 3), 100.6)
    for storage, dtype, units in [("uint8", np.uint8, 1.0), ("float16", np.float16, 2.0),
                                  ("float32", np.float32, 4.0)]:
        e = TensorCodec(storage).encode(pixels, None)
        assert e.decode().dtype == dtype and e.units == units and e.nbytes == units * 48
    assert to_storage(np.array([-3.0, 254.7, 300.0]), "uint8").tolist() == [0, 255, 255]


def mnemonics_config(**mnemonics):
    return smoke_config(memory={"selection": "random"}, train={"balanced_finetune": {"epochs": 1}},
                        mnemonics={"enabled": True, "epochs": 2, "unroll": 1, **mnemonics})


def test_memory_stores_the_learned_images_within_budget():
    """One phase: the memory keeps the exemplars the plug-in learned (as stored: rounded or
    float16), not the originals, and charges what it holds."""
    for storage, units in [("uint8", 1.0), ("float16", 2.0)]:
        cfg = mnemonics_config(beta1=100.0, storage=storage)
        learner, memory, ctx = first_phase(cfg)
        originals, labels = memory.exemplars()
        memory.rewrite(learner.refine_exemplars(ctx, memory.exemplars()))
        learned, same_labels = memory.exemplars()
        np.testing.assert_array_equal(labels, same_labels)
        assert learned.dtype == np.dtype(storage) and not np.array_equal(learned, originals)
        assert learner.plugins[0].stats()["mnemonics_shift"] > 0
        assert memory.memory.units_used == len(labels) * units <= cfg.memory.budget
        assert memory.memory.nbytes == memory.memory.units_used * 32 * 32 * 3
        assert len(labels) == 2 * int(12 // units)  # 24 units over 2 classes


def test_a_run_with_mnemonics_keeps_the_budget_and_adjusts_old_exemplars():
    cfg = mnemonics_config(beta1=100.0, beta2=100.0, storage="float16")
    phases = run_experiment(cfg, None, verbose=False)["phases"]
    for p in phases:
        assert p["memory_units"] <= 24 and p["memory_bytes"] == p["memory_units"] * 32 * 32 * 3
    assert phases[0]["mnemonics_old_shift"] == 0 and phases[1]["mnemonics_old_shift"] > 0
    off = run_experiment(mnemonics_config(beta1=100.0, adjust_old=False, storage="float16"), None,
                         verbose=False)["phases"]
    assert off[1]["mnemonics_old_shift"] == pytest.approx(0, abs=1e-3)  # float16 of the same pixels


def test_paper_rates_barely_move_the_exemplars():
    """β1 = 0.01 through an inner step at α2 = 0.01 (§7.1) moves an exemplar by far less than a
    pixel level: as uint8 the memory keeps the originals (see docs/results/mnemonics-table2.md)."""
    cfg = mnemonics_config()
    learner, memory, ctx = first_phase(cfg)
    learner.refine_exemplars(ctx, memory.exemplars())
    stats = learner.plugins[0].stats()
    assert 0 < stats["mnemonics_shift_learned"] < 0.01 and stats["mnemonics_shift"] == 0


def test_config_refuses_mnemonics_without_a_memory_or_beside_another_codec(tmp_path):
    with pytest.raises(ConfigError, match="mnemonics.enabled: true optimises exemplars, but method 'lwf'"):
        build_config({"method": {"name": "lwf"}, "mnemonics": {"enabled": True}})
    with pytest.raises(ConfigError, match="both store the exemplars"):
        build_config({"cim": {"boxes": "center"}, "mnemonics": {"enabled": True}})
    with pytest.raises(ConfigError, match="mnemonics.storage"):
        build_config({"mnemonics": {"enabled": True, "storage": "int4"}})
    with pytest.raises(ConfigError, match="needs a dataset of fixed-size images"):
        build_config({"dataset": {"name": "food101", "root": str(tmp_path)}, "mnemonics": {"enabled": True}})
