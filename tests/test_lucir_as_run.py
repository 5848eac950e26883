"""LUCIR as the LUCIR, Mnemonics and CIM papers ran it: new-class embeddings imprinted from the
features, no ReLU after the last block, and the weight transfer operations (Mnemonics
supplementary Eq. 11-14) as an option of every method."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from smoke_helpers import first_phase, smoke_config
from torch import nn

from raycil.data.protocol import PhaseContext
from raycil.models.transfer import attach_transfer, merge_transfer
from raycil.plugins.assembly import make_learner, make_memory

LUCIR = {"name": "lucir"}


def test_new_class_embeddings_are_imprinted_from_their_features():
    learner, memory = make_learner(smoke_config(method=LUCIR)), make_memory(smoke_config(method=LUCIR))
    first = PhaseContext(1, 3, 0, 2)
    learner.train_phase(first, memory.exemplars())
    old_norm = learner.model.head.weight.detach().norm(dim=1).mean()
    second = PhaseContext(2, 3, 2, 4)
    learner.method.before_phase(learner, second)
    rows = learner.model.head.blocks[-1].detach()
    for row, c in zip(rows, second.new_classes, strict=True):
        mean = F.normalize(learner.embed(learner.data.train.of_classes([c]).images), dim=1).mean(0)
        assert F.cosine_similarity(row, mean, dim=0) == pytest.approx(1.0, abs=1e-5)
        assert row.norm() == pytest.approx(float(old_norm), rel=1e-5)
    plain = make_learner(smoke_config(method={**LUCIR, "lucir": {"imprint": False}}))
    plain.train_phase(first, memory.exemplars())
    plain.method.before_phase(plain, second)
    assert not torch.allclose(plain.model.head.blocks[-1], rows)


def test_the_last_block_has_no_relu_unless_asked():
    x = torch.randn(8, 3, 32, 32)
    for last_relu, negative in [(False, True), (True, False)]:
        learner = make_learner(smoke_config(method={**LUCIR, "lucir": {"last_relu": last_relu}}))
        learner.model.eval()
        assert bool((learner.model(x)["features"] < 0).any()) == negative


def test_weight_transfer_learns_one_scale_per_filter_and_folds_it_in():
    """Eq. 11: the previous convolution weights stay fixed while per-filter scales train; Eq. 14:
    afterwards each filter of the new network is its old filter times one number."""
    cfg = smoke_config(method=LUCIR, model={"weight_transfer": True})
    learner, memory = make_learner(cfg), make_memory(cfg)
    first = PhaseContext(1, 3, 0, 2)
    learner.train_phase(first, memory.exemplars())
    memory.update(first, learner.exemplar_candidates(first, True))
    before = {n: p.detach().clone() for n, p in learner.model.named_parameters() if "conv" in n}
    learner.train_phase(PhaseContext(2, 3, 2, 4), memory.exemplars())
    after = dict(learner.model.named_parameters())
    assert after.keys() >= before.keys()  # a plain network again, same names
    for name, old in before.items():
        ratio = after[name].detach() / old
        per_filter = ratio.flatten(1)
        assert torch.allclose(per_filter, per_filter[:, :1].expand_as(per_filter), rtol=1e-4, atol=1e-5), name
    assert any(not torch.allclose(after[n], before[n]) for n in before)  # the scales did train


def test_attached_scales_leave_the_function_until_they_train():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
    x = torch.randn(2, 3, 6, 6)
    y = net(x)
    attach_transfer(net)
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    assert "0.parametrizations.weight.0.scale" in trainable and "2.parametrizations.bias.0.shift" in trainable
    assert not [n for n in trainable if n.endswith("original")]
    assert torch.allclose(net(x), y)
    with torch.no_grad():
        net[2].parametrizations["bias"][0].shift.add_(1.0)
    moved = net(x)
    copy.deepcopy(net)
    merge_transfer(net)
    assert torch.allclose(net(x), moved) and all(p.requires_grad for p in net.parameters())


def finetuned(monkeypatch, **bft):
    """A LUCIR learner after its second phase: the parameters and buffers its class-balanced
    fine-tuning changed, and how often the method's loss ran in that stage."""
    cfg = smoke_config(method=LUCIR, train={"balanced_finetune": {"epochs": 2, **bft}})
    learner, memory, _ = first_phase(cfg)
    second = PhaseContext(2, 3, 2, 4)
    learner.train_phase(second, memory.exemplars())
    memory.update(second, learner.exemplar_candidates(second, True))
    before = copy.deepcopy(learner.model.state_dict())
    calls, method_loss = [], learner.method.loss
    monkeypatch.setattr(learner.method, "loss", lambda *a: calls.append(1) or method_loss(*a))
    learner.after_phase(second, memory.exemplars())
    after = learner.model.state_dict()
    return {k for k in before if not torch.equal(before[k], after[k])}, len(calls)


def test_balanced_finetuning_is_lucirs_code_embeddings_only_with_bn_statistics_kept(monkeypatch):
    """LUCIR's cb_finetune (ft_flag 2, fix_bn): only the old and new class embeddings change; the
    feature extractor, every batch-norm running statistic and the scale η stay; the loss is LUCIR's."""
    changed, method_losses = finetuned(monkeypatch)
    assert changed == {"head.blocks.0", "head.blocks.1"}
    assert method_losses > 0


def test_balanced_finetuning_as_raycil_ran_it_before_reestimates_bn_and_trains_the_scale(monkeypatch):
    changed, method_losses = finetuned(monkeypatch, freeze_bn=False, loss="ce", train_scale=True)
    assert {"head.blocks.0", "head.blocks.1", "head.scale"} <= changed
    assert any("running_mean" in k for k in changed)
    assert not any(k.endswith(("weight", "bias")) and not k.startswith("head") for k in changed)
    assert method_losses == 0
