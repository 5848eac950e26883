import torch
import torch.nn.functional as F

from raycil.methods.losses import kd_loss, separated_softmax_loss


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
