from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from smoke_helpers import smoke_config

from raycil.config import ConfigError, load_config
from raycil.data.protocol import phase_contexts
from raycil.learner import learner as learner_module
from raycil.methods.losses import kd_loss, separated_softmax_loss, task_wise_kd_loss
from raycil.plugins.assembly import make_learner, make_memory

ROOT = Path(__file__).resolve().parents[1]


def test_new_class_samples_put_zero_gradient_on_old_logits():
    torch.manual_seed(0)
    logits = torch.randn(8, 10, requires_grad=True)
    y = torch.tensor([6, 7, 8, 9, 6, 7, 1, 2])  # six new-class samples, two old
    separated_softmax_loss(logits, y, known=6, total=10).backward()
    grad = logits.grad
    new = y >= 6
    assert torch.all(grad[new][:, :6] == 0)           # dl/ds_ij = 0 for j in P_t (SS-IL Eq. 3)
    assert torch.all(grad[~new][:, 6:] == 0)          # and old samples do not touch new scores
    assert grad[new][:, 6:].abs().sum() > 0 and grad[~new][:, :6].abs().sum() > 0


def test_separated_softmax_equals_cross_entropy_within_each_group():
    torch.manual_seed(1)
    logits = torch.randn(6, 5)
    y = torch.tensor([0, 1, 2, 3, 4, 4])
    expected = (F.cross_entropy(logits[:3, :3], y[:3], reduction="sum")
                + F.cross_entropy(logits[3:, 3:], y[3:] - 3, reduction="sum")) / 6
    assert torch.allclose(separated_softmax_loss(logits, y, 3, 5), expected)
    # phase 1 (no old classes): ordinary cross-entropy
    assert torch.allclose(separated_softmax_loss(logits, y, 0, 5), F.cross_entropy(logits, y))


def test_kd_loss_is_minimised_by_the_teacher():
    teacher = torch.randn(4, 6)
    other = torch.randn(4, 6)
    assert kd_loss(teacher, teacher, 2.0) < kd_loss(other, teacher, 2.0)


def hand_kd(student: torch.Tensor, teacher: torch.Tensor, t: float) -> torch.Tensor:
    """Soft-target cross-entropy at temperature t, written out: mean over samples."""
    q = torch.exp(teacher / t) / torch.exp(teacher / t).sum(1, keepdim=True)
    log_p = student / t - torch.log(torch.exp(student / t).sum(1, keepdim=True))
    return -(q * log_p).sum(1).mean()


def test_task_wise_kd_is_a_softmax_within_each_old_task_times_t_squared():
    student = torch.tensor([[1.0, -2.0, 0.5, 3.0, 0.0, 9.0], [0.0, 1.0, -1.0, 2.0, 4.0, -9.0]])
    teacher = torch.tensor([[0.5, 0.0, 2.0, -1.0, 1.0], [1.0, 2.0, 0.0, 0.0, -3.0]])
    tasks = [range(0, 2), range(2, 5)]                 # logit 5: the current task, not distilled
    expected = 4 * (hand_kd(student[:, :2], teacher[:, :2], 2) + hand_kd(student[:, 2:5], teacher[:, 2:5], 2))
    assert torch.allclose(task_wise_kd_loss(student, teacher, tasks, 2.0), expected)
    assert not torch.allclose(expected, 4 * hand_kd(student[:, :5], teacher, 2))  # not one softmax


def test_changing_one_old_task_changes_only_its_term():
    torch.manual_seed(2)
    student, teacher = torch.randn(4, 7), torch.randn(4, 7)
    tasks = [range(0, 3), range(3, 5)]
    moved = student.clone()
    moved[:, 3:5] += torch.randn(4, 2)                 # task 2's logits only
    change = task_wise_kd_loss(moved, teacher, tasks, 2.0) - task_wise_kd_loss(student, teacher, tasks, 2.0)
    expected = 4 * (hand_kd(moved[:, 3:5], teacher[:, 3:5], 2) - hand_kd(student[:, 3:5], teacher[:, 3:5], 2))
    assert torch.allclose(change, expected) and float(change.abs()) > 0
    shifted = student.clone()
    shifted[:, :3] += torch.randn(4, 1)                # a per-sample shift within task 1
    shifted[:, 5:] += torch.randn(4, 2)                # the current task's logits
    assert torch.allclose(task_wise_kd_loss(shifted, teacher, tasks, 2.0),
                          task_wise_kd_loss(student, teacher, tasks, 2.0))


def ssil_learner(**method):
    cfg = smoke_config(method={"name": "ssil", **method}, train={"replay_batch_size": 4})
    learner = make_learner(cfg)
    for ctx in phase_contexts(cfg.protocol, cfg.num_classes):  # phase 3: old tasks [0, 2), [2, 4)
        learner.method.before_phase(learner, ctx)
    torch.manual_seed(3)
    with torch.no_grad():                              # the student drifts from the teacher
        learner.model.head.weight.add_(torch.randn_like(learner.model.head.weight))
    learner.model.eval()
    return learner, ctx


def test_task_kd_off_is_the_separated_softmax_and_on_adds_the_task_wise_term():
    torch.manual_seed(4)
    x, y = torch.randn(6, 3, 32, 32), torch.tensor([4, 5, 4, 0, 2, 3])
    off, ctx = ssil_learner()
    logits = off.model(x)["logits"]
    assert torch.equal(off.method.loss(off, x, y, ctx), separated_softmax_loss(logits, y, 4, 6))
    on, _ = ssil_learner(ssil={"task_kd": True}, kd_temperature=3.0, kd_weight=0.5)
    assert on.method.old_tasks == [range(0, 2), range(2, 4)]
    old = on.method.teacher(x)["logits"]
    term = 0.5 * 9 * sum(hand_kd(logits[:, a:b], old[:, a:b], 3.0) for a, b in ((0, 2), (2, 4)))
    assert float(term.detach()) > 0
    assert torch.allclose(on.method.loss(on, x, y, ctx), separated_softmax_loss(logits, y, 4, 6) + term)


@pytest.mark.parametrize("value", ["sometimes", 2, [True]])
def test_task_kd_setting_refuses_a_non_boolean_in_one_line(value):
    with pytest.raises(ConfigError, match=r"method.ssil.task_kd") as err:
        smoke_config(method={"name": "ssil", "ssil": {"task_kd": value}}, train={"replay_batch_size": 4})
    assert "\n" not in str(err.value)
    assert smoke_config(method={"name": "ssil", "ssil": {"task_kd": True}},
                        train={"replay_batch_size": 4}).method.ssil.task_kd


def test_ssil_config_is_the_papers_optimisation_and_memory():
    """SS-IL §6.1-6.2 and Algorithm 1 (and the authors' code): random Ringbuffer exemplars, SGD at
    lr 0.1 divided by the 1-based phase, momentum 0.9, weight decay 1e-4, replay batches."""
    cfg = load_config(ROOT / "configs" / "ssil.yaml")
    t = cfg.train
    assert (cfg.method.name, cfg.memory.selection) == ("ssil", "random")
    assert (t.lr_first, t.lr, t.lr_over_phases, t.momentum, t.weight_decay, t.nesterov) == (
        0.1, 0.1, "inverse", 0.9, 1e-4, False)
    assert t.replay_batch_size == 16


def test_phase_p_of_ssil_starts_at_lr_over_p(monkeypatch):
    """The optimiser of phase p starts at lr / p (the code's lr / (t + 1) for the 0-based task t);
    ``lr_over_phases: constant`` keeps lr in every incremental phase."""
    seen = []
    def spy(opt, epochs, sched):
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["nesterov"]))
        raise StopIteration  # the starting lr is what this test reads

    monkeypatch.setattr(learner_module, "lr_schedule", spy)
    for over_phases in ("inverse", "constant"):
        cfg = load_config(ROOT / "configs" / "ssil.yaml", "smoke",
                          {"train.lr_over_phases": over_phases, "train.nesterov": True,
                           "protocol.num_phases": 3})
        learner, memory = make_learner(cfg), make_memory(cfg)
        for ctx in phase_contexts(cfg.protocol, cfg.num_classes):
            with pytest.raises(StopIteration):
                learner.train_phase(ctx, memory.exemplars())
    assert seen == [(0.1, True), (0.05, True), (pytest.approx(0.1 / 3), True),
                    (0.1, True), (0.1, True), (0.1, True)]
