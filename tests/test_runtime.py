"""End-to-end behaviour of the core runtime on the smoke-sized generated data."""

import json

import numpy as np
import pytest
import torch
from smoke_helpers import first_phase, smoke_config

from raycil.data.protocol import phase_contexts
from raycil.learner.phases import run_phases
from raycil.models.network import GrowingLinear
from raycil.plugins.assembly import make_learner, make_memory
from raycil.run import main, run_experiment


def test_three_phase_run_writes_results_and_reports_every_metric(tmp_path):
    cfg = smoke_config(method={"name": "icarl"})
    out = tmp_path / "run"
    result = run_experiment(cfg, out, verbose=False)
    phases = result["phases"]
    assert [p["phase"] for p in phases] == [1, 2, 3] and [p["classes"] for p in phases] == [2, 4, 6]
    for key in ("top1", "top5", "old_acc", "new_acc", "imbalance", "memory_units", "exemplars_per_class",
                "cnn_top1", "nme_top1"):
        assert key in phases[-1]
    assert all(p["memory_units"] <= cfg.memory.budget for p in phases)
    assert phases[-1]["exemplars_per_class"] == 4        # 24 units over 6 classes
    saved = json.loads((out / "result.json").read_text())
    assert saved["summary"]["avg_inc_acc"] == pytest.approx(np.mean([p["top1"] for p in phases]))
    assert (out / "phases.csv").read_text().count("\n") == 4


@pytest.mark.parametrize("method", ["finetune", "lwf", "ssil", "joint"])
def test_same_seed_gives_identical_metrics(method):
    cfg = smoke_config(method={"name": method}, train={"replay_batch_size": 4 if method == "ssil" else 0})
    a = run_experiment(cfg, None, verbose=False)
    b = run_experiment(cfg, None, verbose=False)
    drop = ("train_seconds", "images_per_s")
    strip = [{k: v for k, v in p.items() if k not in drop} for p in a["phases"]]
    assert strip == [{k: v for k, v in p.items() if k not in drop} for p in b["phases"]]


def test_lwf_trains_on_the_new_classes_alone_distilling_the_previous_network():
    """LwF is memory-free (its registry line): with a memory budget configured, no phase trains
    on an old-class image and the memory stores nothing, while every incremental batch carries a
    non-zero KD term against the previous phase's network."""
    cfg = smoke_config(method={"name": "lwf"})
    assert cfg.memory.budget > 0
    learner, memory = make_learner(cfg), make_memory(cfg)
    labels: list[tuple[int, torch.Tensor]] = []
    kd: list[float] = []
    loss, distillation = learner.method.loss, learner.method.distillation

    def recording_loss(lrn, x, y, ctx):
        labels.append((ctx.known, y.clone()))
        return loss(lrn, x, y, ctx)

    def recording_distillation(logits, x, ctx):
        value = distillation(logits, x, ctx)
        kd.append(float(value.detach()))
        return value

    learner.method.loss, learner.method.distillation = recording_loss, recording_distillation
    phases = run_phases(cfg, learner, memory)["phases"]
    assert len({known for known, _ in labels}) == 3  # every phase trained
    assert all(bool((y >= known).all()) for known, y in labels)
    incremental = [v for (known, _), v in zip(labels, kd, strict=True) if known > 0]
    assert incremental and min(incremental) > 0
    assert all(p["memory_units"] == 0 and p["exemplars"] == 0 for p in phases)


def test_replay_batches_join_every_new_batch_with_k_exemplars():
    cfg = smoke_config(method={"name": "ssil"}, train={"replay_batch_size": 5, "batch_size": 8})
    learner, memory = make_learner(cfg), make_memory(cfg)
    ctx1, ctx2 = phase_contexts(cfg.protocol, cfg.num_classes)[:2]
    learner.train_phase(ctx1, memory.exemplars())
    memory.update(ctx1, learner.exemplar_candidates(ctx1, True))
    seen: list[torch.Tensor] = []
    real_loss = learner.method.loss

    def recording_loss(lrn, x, y, ctx):
        seen.append(y.clone())
        return real_loss(lrn, x, y, ctx)

    learner.method.loss = recording_loss
    learner.train_phase(ctx2, memory.exemplars())
    assert len(seen) == 5   # 40 new images / batch 8, one epoch
    for y in seen:
        assert (y[:8] >= ctx2.known).all()               # the batch of new data B_Dt ...
        assert len(y) == 13 and (y[8:] < ctx2.known).all()  # ... joined by N_M = 5 exemplars
    old_drawn = torch.cat([y[8:] for y in seen])
    assert set(old_drawn.tolist()) <= set(range(ctx2.known))


def test_classifier_grows_keeping_old_rows():
    head = GrowingLinear(4)
    head.expand(3)
    w = head.weight.detach().clone()
    head.expand(2)
    assert head.num_classes == 5 and torch.equal(head.weight[:3], w)


def test_nme_predicts_the_nearest_exemplar_mean():
    learner, memory, ctx = first_phase(smoke_config(method={"name": "icarl"}))
    learner.after_phase(ctx, memory.exemplars())
    x = torch.randn(6, 3, 32, 32)
    scores = learner.method.predict(learner, x, ctx)["nme"]
    learner.model.eval()
    with torch.no_grad():
        f = torch.nn.functional.normalize(learner.model(x)["features"], dim=1)
    dists = torch.cdist(f, learner.method.class_means)
    assert torch.equal(scores.argmax(1), dists.argmin(1))


def test_cli_runs_a_profile_and_writes_outputs(tmp_path, capsys):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("dataset: {num_classes: 4, train_per_class: 8, test_per_class: 4}\n"
                   "protocol: {num_phases: 2}\nmemory: {budget: 8}\nmodel: {backbone: resnet20}\n"
                   "train: {epochs_first: 1, epochs: 1}\nprofiles: {tiny: {seed: 3}}\n")
    argv = [str(cfg), "--profile", "tiny", "--set", "method.name=icarl", "--out", str(tmp_path / "o")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "average incremental accuracy" in printed and "top1" in printed
    saved = json.loads((tmp_path / "o" / "result.json").read_text())
    assert saved["config"]["seed"] == 3 and saved["config"]["method"]["name"] == "icarl"
