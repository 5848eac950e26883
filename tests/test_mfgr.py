"""MFGR (Xin et al., memory-free generative replay): the generator's losses (Eq. 4-7) on inputs
with known values, batch-norm statistics read from the old network, the old network classifying
the generated images into its classes, knowledge inheritance (Eq. 8) at the configured G:N
ratio, the generator kept by the memory (and nothing else: no old-class image anywhere), and a
resumed run ending as an uninterrupted one."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from smoke_helpers import smoke_config
from sweep_helpers import same_metrics
from torch import nn

from raycil.config import ConfigError, build_config, load_config
from raycil.data.protocol import PhaseContext
from raycil.learner.phases import run_phases
from raycil.methods.losses import kd_loss
from raycil.methods.lwf import step_weight
from raycil.plugins.assembly import make_learner, make_memory
from raycil.plugins.mfgr.config import MfgrConfig
from raycil.plugins.mfgr.inheritance import balanced_pick
from raycil.plugins.mfgr.losses import (
    BatchNormStatistics,
    activation_loss,
    class_diversity_loss,
    one_hot_loss,
    pair_divergence_loss,
)
from raycil.plugins.mfgr.plugin import MfgrPlugin
from raycil.plugins.mfgr.recording import record_generator, recording_loss
from raycil.run import run_experiment

ROOT = Path(__file__).resolve().parents[1]

MEMORY_FREE = {"method": {"name": "lwf", "lwf": {"adaptive": True}}, "memory": {"mode": "none", "budget": 0}}
QUICK_GENERATOR = {"enabled": True, "iterations": 15, "batch_size": 32, "width": 16,
                   "latent_dim": 16}


def mfgr_config(**mfgr):
    return smoke_config(**MEMORY_FREE, mfgr={**QUICK_GENERATOR, **mfgr})


# ---------------------------------------------------------------- the generator's losses (Eq. 4-6)
def test_one_hot_loss_is_the_cross_entropy_to_the_arg_max():
    logits = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-3))) / 2
    assert one_hot_loss(logits).item() == pytest.approx(expected)


def test_class_diversity_loss_is_the_negative_entropy_of_the_mean_prediction():
    """In base 10 as the authors' code takes it (the default), or natural."""
    even = torch.zeros(4, 5)                               # every prediction uniform over 5 classes
    assert class_diversity_loss(even, "e").item() == pytest.approx(-math.log(5))
    assert class_diversity_loss(even).item() == pytest.approx(-math.log10(5))
    spread = torch.eye(4) * 50                             # confident, one image per class
    assert class_diversity_loss(spread, "e").item() == pytest.approx(-math.log(4), abs=1e-6)
    collapsed = torch.tensor([[50.0, 0, 0, 0]] * 4)        # every image the same class
    assert class_diversity_loss(collapsed).item() == pytest.approx(0.0, abs=1e-6)


def test_activation_loss_is_minus_the_mean_absolute_feature():
    assert activation_loss(torch.tensor([[1.0, -3.0], [0.0, 4.0]])).item() == pytest.approx(-2.0)


def test_pair_divergence_is_minus_the_symmetric_kl_of_two_predictions():
    p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    kl = lambda a, b: float((a * (a / b).log()).sum())    # noqa: E731
    logits = torch.stack([p.log(), q.log()])               # two images: every pair is (p, q) or (q, p)
    got = pair_divergence_loss(logits, 200, torch.Generator().manual_seed(0))
    assert got.item() == pytest.approx(-0.5 * (kl(p, q) + kl(q, p)), rel=1e-5)
    same = torch.stack([p.log(), p.log()])
    assert pair_divergence_loss(same, 50, torch.Generator()).item() == pytest.approx(0.0, abs=1e-7)


def test_pair_divergence_on_pixels_is_the_kl_of_the_images_pixel_softmaxes():
    """The authors' code: each image flattened, softmax over its pixels, KL both ways."""
    torch.manual_seed(0)
    images = torch.randn(2, 3, 4, 4)
    p, q = (F.softmax(images[i].flatten(), dim=0) for i in (0, 1))
    kl = lambda a, b: float((a * (a / b).log()).sum())    # noqa: E731
    got = pair_divergence_loss(images, 100, torch.Generator().manual_seed(0))
    assert got.item() == pytest.approx(-0.5 * (kl(p, q) + kl(q, p)), rel=1e-5)


def test_recording_loss_weighs_every_term_and_leaves_zero_weights_out():
    """Eq. 7 with the code's activation term: ℓ_oh + λ1 ℓ_cd + λ2 ℓ_bn + λ3 ℓ_div + 0.1 ℓ_act; ℓ_div
    on the pixels by default, on the predictions with ``div_on: predictions``."""
    torch.manual_seed(1)
    images, out = torch.randn(8, 3, 4, 4), {"logits": torch.randn(8, 5), "features": torch.randn(8, 6)}
    net = nn.Sequential(nn.BatchNorm2d(3)).eval()
    bn = BatchNormStatistics(net)
    s = MfgrConfig(enabled=True)
    with bn.watching():
        net(images)
        terms = recording_loss(images, out, 4, bn, s, torch.Generator().manual_seed(0))
    logits = out["logits"][:, :4]
    assert terms["div"].item() == pytest.approx(
        pair_divergence_loss(images, 200, torch.Generator().manual_seed(0)).item())
    expected = (terms["oh"] + 5 * terms["cd"] + 20 * terms["bn"] + 0.1 * terms["div"]
                + 0.1 * terms["act"])
    assert terms["total"].item() == pytest.approx(expected.item())
    assert terms["cd"].item() == pytest.approx(class_diversity_loss(logits, "10").item())
    plain = MfgrConfig(enabled=True, lambda2=0, activation_weight=0, div_on="predictions")
    terms = recording_loss(images, out, 4, bn, plain, torch.Generator().manual_seed(0))
    assert set(terms) == {"oh", "cd", "div", "total"}
    assert terms["div"].item() == pytest.approx(
        pair_divergence_loss(logits, 200, torch.Generator().manual_seed(0)).item())


def test_mfgr_local_profile_states_its_generator_budget_unscaled():
    """configs/mfgr.yaml records with the steps it states whatever the classifier's epochs (the
    paper's 60,000 at batch 512 only with ``rescale``-free paper profiles); ``rescale`` shrinks them."""
    cfg = load_config(ROOT / "configs" / "mfgr.yaml")
    plugin = MfgrPlugin(cfg.mfgr, cfg)
    assert plugin.iterations() == cfg.mfgr.iterations >= 200
    shrunk = cfg.mfgr.model_copy(update={"rescale": True, "of_epochs": 4 * cfg.train.epochs})
    assert MfgrPlugin(shrunk, cfg).iterations() == round(cfg.mfgr.iterations / 4)


def test_batch_norm_loss_compares_the_batch_with_the_old_networks_running_statistics():
    """ℓ_bn reads each layer's running mean and variance (the old data's): a batch with exactly
    those statistics costs nothing, and moving the running mean by d costs ‖d‖₂ per layer."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)).eval()
    x = torch.randn(64, 3, 4, 4)
    with torch.no_grad():
        for bn, inp in ((net[0], lambda: x), (net[2], lambda: net[1](net[0](x)))):
            bn.running_mean.copy_(inp().mean(dim=(0, 2, 3)))
            bn.running_var.copy_(inp().var(dim=(0, 2, 3), unbiased=False))
    stats = BatchNormStatistics(net)
    with stats.watching():
        net(x)
        assert stats.loss().item() == pytest.approx(0.0, abs=1e-5)
        shift = torch.tensor([3.0, 0.0, 4.0])               # ‖shift‖₂ = 5 on the last layer only
        net[2].running_mean.add_(shift)
        net(x)
        assert stats.loss().item() == pytest.approx(5.0 / 2, rel=1e-4)   # averaged over 2 layers
    net(x)
    assert stats.terms == []                                # the hooks are gone after the block


def test_balanced_pick_takes_the_classes_in_turn():
    labels = np.array([2, 0, 0, 0, 1, 2, 0, 2])
    assert sorted(labels[balanced_pick(labels, 3)]) == [0, 1, 2]
    assert np.bincount(labels[balanced_pick(labels, 6)]).tolist() == [3, 1, 2]  # rounds 0,1,2 | 0,2 | 0
    assert len(balanced_pick(labels, 8)) == 8 and len(set(balanced_pick(labels, 8))) == 8


# ---------------------------------------------------------------- recording and inheritance
def trained_first_phase(cfg):
    learner, memory = make_learner(cfg), make_memory(cfg)
    ctx = PhaseContext(1, 3, 0, 2)
    learner.train_phase(ctx, memory.exemplars())
    return learner, ctx


def test_the_old_network_classifies_the_generated_images_into_all_its_classes():
    """Knowledge recording (Eq. 7) from the network alone: with ℓ_cd (λ1 = 5) the generator's
    images are spread over every class the network knows, and the network's parameters, modes and
    gradients are untouched by the generator's training."""
    cfg = smoke_config(**MEMORY_FREE, train={"epochs_first": 4, "batch_size": 16, "progress": False})
    learner, ctx = trained_first_phase(cfg)
    before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    learner.model.train()
    learner.model.zero_grad(set_to_none=True)
    settings = cfg.mfgr.model_copy(update={"enabled": True, "batch_size": 32, "width": 16})
    generator, stats = record_generator(learner.model, ctx.total, settings, 32, 40, learner.device, seed=1)
    assert stats["mfgr_coverage"] == 1.0 and stats["mfgr_balance"] > 0.5, stats
    assert learner.model.training and all(p.grad is None for p in learner.model.parameters())
    after = learner.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with torch.no_grad():
        images = generator(torch.randn(64, settings.latent_dim))
    assert images.shape == (64, 3, 32, 32)


@pytest.mark.parametrize("ratio", [1.0, 3.0])
def test_every_step_distils_ratio_times_the_batch_in_generated_images(ratio):
    """Eq. 8 at G:N = ratio: phase 2 trains on 40 new images (1 epoch), so 40·ratio generated
    ones, balanced over the old classes as far as the pool allows; λ4 = t / (t + 1)."""
    phases = run_experiment(mfgr_config(ratio=ratio), None, verbose=False)["phases"]
    assert "mfgr_generated" not in phases[0]
    assert [p["mfgr_generated"] for p in phases[1:]] == [40 * ratio] * 2
    assert [p["mfgr_weight"] for p in phases[1:]] == [1 / 2, 2 / 3]
    assert phases[1]["mfgr_replay_bytes"] == 40 * ratio * 3 * 32 * 32 * 4
    assert "mfgr_coverage" in phases[1] and "mfgr_coverage" not in phases[2]   # none after the last


def test_the_mfgr_loss_is_eq8_the_adaptive_lwf_terms_plus_the_generated_kd():
    """(1 − λ4) ℓ_ce + λ4 (ℓ_gkd + ℓ_nkd) at step t = 1 (λ4 = 1/2), term by term: LwF's loss
    with ``adaptive`` and the plug-in's term on the generated images it samples."""
    cfg = mfgr_config()
    learner, memory = make_learner(cfg), make_memory(cfg)
    first = PhaseContext(1, 3, 0, 2)
    learner.train_phase(first, memory.exemplars())
    learner.generator_state = learner.record_generator(first)
    ctx = PhaseContext(2, 3, 2, 4)
    learner.method.before_phase(learner, ctx)
    new = learner.data.train.of_classes(ctx.new_classes)
    [plugin] = learner.plugins
    hooks = plugin.phase_hooks(learner, ctx, new, memory.exemplars())
    x, y = learner.batches(new.images, new.labels, train=False).take(torch.arange(8))
    learner.model.train()
    rng_state = hooks.rng.get_state()
    extra = hooks.extra_loss(x, y)
    hooks.rng.set_state(rng_state)
    images, old_logits = hooks.sample(8)
    with torch.no_grad():
        teacher = learner.method.teacher(x)["logits"][:, :2]
        assert torch.equal(old_logits, hooks.teacher(images)["logits"][:, :2])
        logits = learner.model(x)["logits"]
        gkd = kd_loss(learner.model(images)["logits"][:, :2], old_logits, 2.0)
        ce = F.cross_entropy(logits[:, 2:4], y - 2)
        nkd = kd_loss(logits[:, :2], teacher, 2.0)
        method = learner.method.loss(learner, x, y, ctx)
    assert step_weight(ctx) == 0.5
    assert method.item() == pytest.approx(0.5 * ce.item() + 0.5 * nkd.item(), rel=1e-5)
    assert extra.item() == pytest.approx(0.5 * gkd.item(), rel=1e-5)


# ---------------------------------------------------------------- the memory keeps the generator only
def tensors_in(obj, found=None):
    """Every tensor and array inside a (nested) checkpoint object."""
    found = [] if found is None else found
    if isinstance(obj, torch.Tensor | np.ndarray):
        found.append(obj)
    elif isinstance(obj, nn.Module):
        found.extend(obj.state_dict().values())
    elif isinstance(obj, dict):
        for v in obj.values():
            tensors_in(v, found)
    elif isinstance(obj, list | tuple):
        for v in obj:
            tensors_in(v, found)
    elif hasattr(obj, "__dict__"):
        tensors_in(vars(obj), found)
    return found


def test_no_old_class_image_is_in_any_checkpoint_and_a_resumed_run_ends_the_same():
    """After every phase the checkpointed state (learner + memory, as the trial saves it) holds
    the network and the generator's weights and no image-shaped array at all; restoring the
    state saved after phase 2 into fresh objects gives phase 3 the uninterrupted run's metrics."""
    cfg = mfgr_config()
    saved: list[bytes] = []
    learner, memory = make_learner(cfg), make_memory(cfg)

    def checkpoint(metrics, history):
        state = {"learner": learner.state(), "memory": memory.state(), "history": list(history)}
        buf = io.BytesIO()
        torch.save(state, buf)
        saved.append(buf.getvalue())
        arrays = tensors_in(state)
        assert arrays and not [a.shape for a in arrays if tuple(a.shape[-3:]) in {(3, 32, 32), (32, 32, 3)}]
        assert len(memory.memory) == 0

    full = run_phases(cfg, learner, memory, on_phase=checkpoint)["phases"]
    assert [p["generator_bytes"] for p in full[1:]] == [full[1]["generator_bytes"]] * 2
    generator = memory.generator()
    nbytes = sum(t.numel() * t.element_size() for t in generator.values())
    assert full[1]["generator_bytes"] == nbytes and full[1]["generator_units"] == nbytes / (3 * 32 * 32)
    state = torch.load(io.BytesIO(saved[1]), weights_only=False)
    learner2, memory2 = make_learner(cfg), make_memory(cfg)
    learner2.load_state(state["learner"])
    memory2.load_state(state["memory"])
    resumed = run_phases(cfg, learner2, memory2, history=state["history"])["phases"]
    assert [same_metrics(e, g) for e, g in zip(full, resumed, strict=True)] == [[]] * 3


def test_mfgr_settings_are_validated():
    with pytest.raises(ConfigError, match="mfgr.ratio"):
        build_config({"mfgr": {"enabled": True, "ratio": 0}})
    with pytest.raises(ConfigError, match="mfgr.lambda2"):
        build_config({"mfgr": {"enabled": True, "lambda2": -1}})
