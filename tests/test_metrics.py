import math

import numpy as np
import pytest

from raycil.metrics import phase_metrics, run_summary


def one_hot_scores(pred, num_classes):
    s = np.zeros((len(pred), num_classes))
    s[np.arange(len(pred)), pred] = 1
    return s


def test_phase_metrics_on_hand_built_predictions():
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])   # classes 0,1 old; 2,3 new
    pred = np.array([0, 2, 1, 1, 2, 0, 3, 3])     # one old->new error, one new->old error
    m = phase_metrics(one_hot_scores(pred, 4), labels, known=2, first_classes=2)
    assert m["top1"] == pytest.approx(75.0)
    assert m["old_acc"] == pytest.approx(75.0) and m["new_acc"] == pytest.approx(75.0)
    assert m["e_old_as_new"] == pytest.approx(25.0) and m["e_new_as_old"] == pytest.approx(25.0)
    assert m["imbalance"] == pytest.approx(25.0)
    assert m["first_acc"] == pytest.approx(75.0)


def test_top5_and_first_phase_metrics():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 10))
    labels = rng.integers(0, 10, 50)
    m = phase_metrics(scores, labels, known=0, first_classes=10)
    ranks = (scores > scores[np.arange(50), labels][:, None]).sum(1)
    assert m["top5"] == pytest.approx(100 * (ranks < 5).mean())
    assert math.isnan(m["imbalance"]) and math.isnan(m["old_acc"])


def test_run_summary_definitions():
    phases = [
        {"top1": 90.0, "first_acc": 90.0, "imbalance": math.nan},
        {"top1": 70.0, "first_acc": 60.0, "imbalance": 20.0},
        {"top1": 50.0, "first_acc": 40.0, "imbalance": 30.0},
    ]
    s = run_summary(phases)
    assert s["avg_inc_acc"] == pytest.approx(70.0)   # phase 1 included
    assert s["last_acc"] == 50.0
    assert s["forgetting"] == pytest.approx(50.0)    # 90 after phase 1 minus 40 after the last
    assert s["avg_imbalance"] == pytest.approx(25.0)


def test_accuracy_matrix_row_per_phase_group_and_its_diagonal_is_new_acc():
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])      # groups: {0,1} phase 1, {2,3} phase 2, {4} phase 3
    pred = np.array([0, 1, 1, 1, 2, 2, 0, 3, 4, 0])
    m = phase_metrics(one_hot_scores(pred, 5), labels, known=4, first_classes=2, group_ends=[2, 4, 5])
    assert (m["group1_acc"], m["group2_acc"], m["group3_acc"]) == pytest.approx((75.0, 75.0, 50.0))
    assert m["group3_acc"] == m["new_acc"] and m["group1_acc"] == m["first_acc"]
    assert "group4_acc" not in m
    assert not any(k.startswith("group") for k in phase_metrics(one_hot_scores(pred, 5), labels, 4, 2))


def test_average_forgetting_is_chaudhry_eq9_over_all_old_groups():
    phases = [
        {"top1": 90.0, "first_acc": 90.0, "group1_acc": 90.0},
        {"top1": 70.0, "first_acc": 60.0, "group1_acc": 60.0, "group2_acc": 80.0},
        {"top1": 50.0, "first_acc": 70.0, "group1_acc": 70.0, "group2_acc": 50.0, "group3_acc": 85.0},
    ]
    # after phase 3: group 1 best before 90 -> 70 (20), group 2 best before 80 -> 50 (30)
    assert run_summary(phases)["avg_forgetting"] == pytest.approx(25.0)
    assert run_summary(phases[:2])["avg_forgetting"] == pytest.approx(30.0)
    assert math.isnan(run_summary(phases[:1])["avg_forgetting"])
    assert run_summary(phases)["forgetting"] == pytest.approx(20.0)  # F reads phase 1's classes only
