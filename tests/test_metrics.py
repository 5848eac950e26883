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
