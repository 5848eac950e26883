"""CIM's mask branch (CIM §4.2, Figure 3): PAUs (Molina et al., ICLR 2020) fitted to ReLU, and a
second logical branch that shares every weight layer with the CIL backbone."""

from __future__ import annotations

import copy

import pytest
import torch
from torchvision.models import resnet18

from raycil.models.activations import SlotActivation, activation_slots, last_block_slots
from raycil.models.backbones import ResNet18, build_backbone
from raycil.models.expandable import ExpandableNet
from raycil.models.network import IncrementalNet
from raycil.plugins.cim.branch import MaskBranch
from raycil.plugins.cim.pau import PAU, relu_distance

FIT_BOUND = 0.035  # max |PAU - ReLU| on [-3, 3] at initialisation (the fit reaches about 0.030)


def images(n: int = 4) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def net() -> IncrementalNet:
    """A ResNet-20 in eval mode whose batch-norm statistics are those of the test images (at their
    initial values, eval-mode activations grow far beyond the [-3, 3] range the PAUs fit)."""
    torch.manual_seed(0)
    net = IncrementalNet(build_backbone("resnet20", 32))
    net.expand(5)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average: one pass sets the statistics
    with torch.no_grad():
        net.train()(images(16))
    return net.eval()


def test_pau_starts_as_relu():
    pau = PAU()
    assert sum(p.numel() for p in pau.parameters()) == 10
    x = torch.linspace(-3, 3, 10001)
    assert (pau(x) - torch.relu(x)).abs().max().item() < FIT_BOUND
    assert 0 < relu_distance(pau) < 0.03


def test_pau_denominator_has_no_poles():
    pau = PAU()
    with torch.no_grad():
        pau.denominator.copy_(torch.tensor([-2.0, 0.5, -1.0, 3.0]))  # signs must not matter
    x = torch.tensor([-1e3, -5.0, -0.3, 0.0, 0.3, 5.0, 1e3], requires_grad=True)
    y = pau(x)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in pau.parameters())
    with torch.no_grad():
        pau.numerator.copy_(torch.tensor([1.0, 0, 0, 0, 0, 0]))  # PAU = 1 / Q
        inv_q = pau(torch.linspace(-100, 100, 2001))
    assert (inv_q > 0).all() and (inv_q <= 1).all()


@pytest.mark.parametrize(("name", "slots"), [("resnet18", 17), ("resnet20", 19), ("resnet32", 31)])
def test_slot_counts(name: str, slots: int):
    backbone = build_backbone(name, 32)
    assert len(activation_slots(backbone)) == slots
    assert last_block_slots(backbone) == [slots - 2, slots - 1]
    assert all(isinstance(s, SlotActivation) for s in activation_slots(backbone))


def test_resnet18_matches_torchvision():
    torch.manual_seed(0)
    ours = ResNet18().body.state_dict()
    torch.manual_seed(0)
    ref = resnet18(weights=None)
    ref_state = {k: v for k, v in ref.state_dict().items() if not k.startswith("fc.")}
    assert [k.split(".", 1)[1] for k in ours] == [k.split(".", 1)[1] for k in ref_state]
    assert all(torch.equal(a, b) for a, b in zip(ours.values(), ref_state.values(), strict=True))


def test_branch_is_close_to_cil_model_and_leaves_it_unchanged(net: IncrementalNet):
    x = images()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    branch = MaskBranch(net.backbone)
    assert len(branch.paus) == 19 and set(branch.relu_distances()) == {str(i) for i in range(19)}
    before = net(x)["features"]
    with branch.active(net):
        assert all(s.override is not None for s in activation_slots(net.backbone))
        during = net(x)["features"]
    after = net(x)["features"]
    assert torch.equal(before, after)
    assert not torch.equal(before, during)
    assert ((during - before).norm() / before.norm()).item() < 0.1
    assert all(s.override is None for s in activation_slots(net.backbone))
    assert list(net.state_dict()) == list(state)
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())


def test_overrides_are_removed_on_exception(net: IncrementalNet):
    branch = MaskBranch(net.backbone)
    with pytest.raises(KeyError), branch.active(net):
        raise KeyError("boom")
    assert all(s.override is None for s in activation_slots(net.backbone))


def test_phi_gets_gradients_through_shared_weights(net: IncrementalNet):
    x = images()
    branch = MaskBranch(net.backbone)
    with branch.active(net):
        loss = net(x)["logits"].logsumexp(dim=1).mean()
        grads = torch.autograd.grad(loss, list(branch.parameters()))
    assert len(grads) == 2 * 19
    assert all(torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum().item() for g in grads) > 0
    assert not any(p in set(branch.parameters()) for p in net.parameters())

    conv = net.backbone.body[0][0]
    with branch.active(net):
        mask_before = net(x)["features"]
    cil_before = net(x)["features"]
    with torch.no_grad():
        conv.weight.mul_(1.5)
    with branch.active(net):
        assert not torch.equal(net(x)["features"], mask_before)
    assert not torch.equal(net(x)["features"], cil_before)


def test_last_block_only(net: IncrementalNet):
    branch = MaskBranch(net.backbone, last_block_only=True)
    assert sorted(branch.paus) == ["17", "18"]
    assert sum(p.numel() for p in branch.parameters()) == 20
    with branch.active(net):
        overridden = [i for i, s in enumerate(activation_slots(net.backbone)) if s.override is not None]
    assert overridden == [17, 18]


def test_expandable_net_overrides_every_backbone():
    torch.manual_seed(0)
    net = ExpandableNet([build_backbone("resnet20", 32)])
    net.expand(3)
    net.add_backbone()
    branch = MaskBranch(net.backbones[0])
    with branch.active(net):
        for backbone in net.backbones:
            slots = activation_slots(backbone)
            assert [s.override for s in slots] == [branch.paus[str(i)] for i in range(len(slots))]
        out = net.eval()(images(2))["logits"]
    assert torch.isfinite(out).all()
    assert all(s.override is None for b in net.backbones for s in activation_slots(b))


def test_deepcopy(net: IncrementalNet):
    x = images(2)
    branch = MaskBranch(net.backbone)
    copied_branch = copy.deepcopy(branch)
    assert all(torch.equal(a, b) for a, b in zip(branch.parameters(), copied_branch.parameters(),
                                                 strict=True))
    with branch.active(net):
        copied_net = copy.deepcopy(net)  # a copy taken inside the context is a plain CIL model
        masked = net(x)["features"]
    assert all(s.override is None for s in activation_slots(copied_net.backbone))
    assert torch.equal(copied_net(x)["features"], net(x)["features"])
    with copied_branch.active(copied_net):
        assert torch.equal(copied_net(x)["features"], masked)
