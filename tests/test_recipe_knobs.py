"""The recipe knobs a peer's protocol needs: the first phase's weight decay and schedule apart
from the incremental phases', and FT's new-class-masked cross-entropy (PyCIL's finetune)."""

from __future__ import annotations

import pytest
import torch
from smoke_helpers import smoke_config

from raycil.config import ConfigError
from raycil.data.protocol import PhaseContext
from raycil.learner import learner as learner_module
from raycil.plugins.assembly import make_learner, make_memory


def test_the_first_phase_has_its_own_weight_decay_and_schedule(monkeypatch):
    cfg = smoke_config(train={"weight_decay": 2e-4, "weight_decay_first": 5e-4,
                              "schedule": {"kind": "multistep", "milestones": [0.5]},
                              "schedule_first": {"kind": "multistep", "milestones": [0.3, 0.6, 0.85]},
                              "epochs_first": 20, "epochs": 10})
    seen = []
    make_schedule = learner_module.lr_schedule

    def spy(opt, epochs, sched):
        scheduler = make_schedule(opt, epochs, sched)
        seen.append((opt.param_groups[0]["weight_decay"], sorted(scheduler.milestones)))
        raise StopIteration  # the settings are what this test reads; no need to train

    monkeypatch.setattr(learner_module, "lr_schedule", spy)
    learner, memory = make_learner(cfg), make_memory(cfg)
    for ctx in (PhaseContext(1, 3, 0, 2), PhaseContext(2, 3, 2, 4)):
        with pytest.raises(StopIteration):
            learner.train_phase(ctx, memory.exemplars())
    assert seen == [(5e-4, [6, 12, 17]), (2e-4, [5])]


def test_without_first_phase_settings_every_phase_uses_the_common_ones(monkeypatch):
    cfg = smoke_config(train={"weight_decay": 2e-4, "schedule": {"kind": "multistep", "milestones": [0.5]},
                              "epochs_first": 20})
    seen = []

    def spy(opt, epochs, sched):
        seen.append((opt.param_groups[0]["weight_decay"], sched.milestones))
        raise StopIteration

    monkeypatch.setattr(learner_module, "lr_schedule", spy)
    with pytest.raises(StopIteration):
        make_learner(cfg).train_phase(PhaseContext(1, 3, 0, 2), make_memory(cfg).exemplars())
    assert seen == [(2e-4, [0.5])]


@pytest.mark.parametrize("masked", [False, True])
def test_masked_finetuning_leaves_old_logits_out_of_the_loss(masked):
    cfg = smoke_config(method={"name": "finetune", "finetune": {"masked": masked}}, memory={"mode": "none"})
    learner = make_learner(cfg)
    learner.method.before_phase(learner, PhaseContext(1, 3, 0, 2))
    learner.method.before_phase(learner, PhaseContext(2, 3, 2, 4))
    x, y = torch.randn(6, 3, 32, 32), torch.tensor([2, 3, 2, 3, 2, 3])
    learner.model.zero_grad()
    learner.method.loss(learner, x, y, PhaseContext(2, 3, 2, 4)).backward()
    old_rows = learner.model.head.weight.grad[:2]  # the two classes of phase 1
    assert bool(old_rows.abs().sum() == 0) == masked


def test_masked_finetuning_refuses_a_memory():
    with pytest.raises(ConfigError, match="method.finetune.masked: .* memory.mode: none"):
        smoke_config(method={"name": "finetune", "finetune": {"masked": True}})
