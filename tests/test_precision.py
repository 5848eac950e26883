"""``train.precision`` (fp32 / bf16 / fp16), ``train.channels_last`` and the batched pad-crop-flip,
on the CPU; the CUDA-only checks at the end are skipped without a GPU.

Tolerances (measured on this project's 2-core CPU, ``configs/icarl.yaml --profile smoke`` with
40 training and 40 test images per class, 4 + 2 + 2 epochs, seeds 0-9): a whole bf16 run against
the fp32 run of its seed differed by at most 8.2 points of average incremental accuracy (median
2.2) and 17.5 points of one phase's top-1; channels-last fp32 by at most 3.5 and 8.1. Both are
training noise, not precision loss: any change of rounding sends SGD down another path, and the
fp32 runs of seeds 0-9 themselves span 41.9-62.3 points. So the whole-run bounds (seed 0) are
loose, 10 and 20 points, yet far from a network at chance level (30.6 points on average). The
same trained weights evaluated in bf16 instead of fp32 changed no prediction of 480 test images
(6 seeds; logits within 0.4% of their scale), and in channels-last not even a logit.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from golden_metrics import differences
from smoke_helpers import first_phase, smoke_config

import raycil.learner.learner as learner_module
from raycil.config import ConfigError, build_config, load_config
from raycil.learner.batches import BatchSource, pad_crop_flip
from raycil.learner.inference import FP16_ON_CPU, as_fp32, autocast, check_precision
from raycil.learner.learner import grad_scaler
from raycil.plugins.assembly import make_learner
from raycil.run import main, run_experiment

ROOT = Path(__file__).resolve().parents[1]
CUDA = torch.cuda.is_available()
# the measured setting of the module docstring: the smoke data, a little larger and trained longer
LONGER = ["device=cpu", "seed=0", "dataset.train_per_class=40", "dataset.test_per_class=40",
          "train.epochs_first=4", "train.epochs=2", "train.progress=false"]
RUN_AVG_TOLERANCE, RUN_PHASE_TOLERANCE = 10.0, 20.0
CHANCE_AVG = 100 * (1 / 2 + 1 / 4 + 1 / 6) / 3  # 2, 4, 6 classes


def longer_run(*sets: str) -> dict:
    cfg = load_config(ROOT / "configs/icarl.yaml", "smoke", [*LONGER, *sets])
    return run_experiment(cfg, None, verbose=False)


@pytest.fixture(scope="module")
def fp32_run() -> dict:
    torch.set_num_threads(1)
    return longer_run()


def assert_within_run_tolerance(got: dict, ref: dict) -> None:
    top1 = [(p["top1"], q["top1"]) for p, q in zip(got["phases"], ref["phases"], strict=True)]
    assert all(abs(a - b) <= RUN_PHASE_TOLERANCE for a, b in top1), top1
    avg, ref_avg = got["summary"]["avg_inc_acc"], ref["summary"]["avg_inc_acc"]
    assert abs(avg - ref_avg) <= RUN_AVG_TOLERANCE, (avg, ref_avg)
    assert avg >= CHANCE_AVG + 15, avg  # trained, not at chance


# ----------------------------------------------------------------------------- fp32: unchanged

def test_fp32_is_the_default_and_gives_the_recorded_metrics(golden_run):
    cfg = load_config(ROOT / "configs/icarl.yaml", "smoke")
    assert cfg.train.precision == "fp32" and cfg.train.channels_last is False
    golden = json.loads((ROOT / "tests/golden/smoke.json").read_text())
    case = "config:configs/icarl.yaml:smoke"
    assert differences(golden[case], golden_run(case)) == []


def test_batched_pad_crop_flip_is_the_per_sample_loop_to_the_bit():
    def per_sample(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:  # the former code
        n, _, h, w = x.shape
        padded = F.pad(x, (pad, pad, pad, pad))
        offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator).tolist()
        flips = torch.rand(n, generator=generator) < 0.5
        out = torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets)])
        return torch.where(flips[:, None, None, None], out.flip(3), out)

    for n, h, w, pad in [(64, 32, 32, 4), (7, 28, 20, 3), (1, 8, 8, 1), (33, 32, 32, 4)]:
        # NHWC memory seen as NCHW, as BatchSource hands images to the augmentation
        x = torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8).permute(0, 3, 1, 2).float()
        g1, g2 = torch.Generator().manual_seed(n), torch.Generator().manual_seed(n)
        want, got = per_sample(x, pad, g1), pad_crop_flip(x, pad, g2)
        assert torch.equal(want, got) and got.is_contiguous() and got.stride() == want.stride()
        assert torch.equal(g1.get_state(), g2.get_state())  # the same draws, no more


# ----------------------------------------------------------------------------- bf16

def test_bf16_run_is_within_the_stated_tolerance_of_fp32(fp32_run):
    bf16 = longer_run("train.precision=bf16")
    assert_within_run_tolerance(bf16, fp32_run)
    assert bf16["config"]["train"]["precision"] == "bf16"  # recorded with the run (experiment.yaml too)
    assert [p["top1"] for p in bf16["phases"]] != [p["top1"] for p in fp32_run["phases"]] or \
        bf16["summary"] != fp32_run["summary"]  # bf16 really ran: the same to the digit would be suspicious


def test_bf16_evaluation_of_the_same_weights_keeps_the_predictions():
    learner, _, ctx = first_phase(smoke_config(method={"name": "icarl"}))
    test = learner.data.test.of_classes(range(ctx.total))
    seen: list[torch.dtype] = []

    def logits(x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
        out = learner.model(x)["logits"][:, : ctx.total]
        seen.append(out.dtype)
        return out

    def all_logits() -> torch.Tensor:
        return torch.cat(learner.infer(test.images, test.labels, logits))

    fp32, fp32_logits = learner.evaluate(ctx, ctx.total), all_logits()
    learner.precision = "bf16"
    bf16, bf16_logits = learner.evaluate(ctx, ctx.total), all_logits()
    assert seen[0] == torch.float32 and seen[-1] == torch.bfloat16  # the forward ran under autocast
    assert bf16_logits.dtype == torch.float32  # ... and came back as float32
    assert 0 < (fp32_logits - bf16_logits).abs().max() < 0.05 * fp32_logits.abs().max()
    assert abs(bf16["top1"] - fp32["top1"]) <= 100 / len(test)  # at most one of 20 images


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fit_computes_the_loss_under_autocast_and_steps_without_a_scaler(precision, monkeypatch):
    learner = make_learner(smoke_config(train={"precision": precision}))
    learner.model.expand(2)
    images = learner.data.train.of_classes([0, 1])
    scalers: list = []
    real = learner_module.grad_scaler
    monkeypatch.setattr(learner_module, "grad_scaler", lambda d, p: scalers.append(real(d, p)) or scalers[-1])
    dtypes: list[torch.dtype] = []

    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = learner.model(x)["logits"][:, :2]
        dtypes.append(out.dtype)
        return F.cross_entropy(out, y)

    before = [p.detach().clone() for p in learner.model.parameters()]
    learner.fit(learner.batches(images.images, images.labels, train=True), 1, 0.1, loss,
                list(learner.model.parameters()))
    assert set(dtypes) == {torch.float32 if precision == "fp32" else torch.bfloat16}
    assert scalers == [None]
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.model.parameters(), strict=True))


# ----------------------------------------------------------------------------- fp16

def test_fp16_on_the_cpu_is_refused_up_front(tmp_path, capsys):
    assert main([str(ROOT / "configs/icarl.yaml"), "--profile", "smoke", "--set", "device=cpu",
                 "--set", "train.precision=fp16", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"raycil.run: error: {FP16_ON_CPU}"]
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="train.precision: fp16 needs a CUDA device"):
        check_precision(torch.device("cpu"), "fp16")
    check_precision(torch.device("cuda"), "fp16")  # nothing to refuse
    check_precision(torch.device("cpu"), "bf16")


@pytest.mark.skipif(CUDA, reason="device auto resolves to the GPU here")
def test_fp16_with_device_auto_is_refused_where_auto_finds_no_gpu():
    cfg = smoke_config(device="auto", train={"precision": "fp16"})  # valid: auto may find a GPU
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device.*resolved to cpu"):
        make_learner(cfg)


def test_grad_scaler_only_for_fp16():
    assert grad_scaler(torch.device("cpu"), "fp32") is None
    assert grad_scaler(torch.device("cpu"), "bf16") is None
    assert isinstance(grad_scaler(torch.device("cpu"), "fp16"), torch.amp.GradScaler)


def test_fp16_fit_scales_the_loss_and_steps_through_the_scaler(monkeypatch):
    """The fp16 branch of the one training loop, on a CPU (torch runs fp16 autocast and a CPU
    GradScaler there, slowly: the config refuses it, so the learner is switched after building)."""
    learner = make_learner(smoke_config())
    learner.precision = "fp16"
    learner.model.expand(2)
    scalers: list[torch.amp.GradScaler] = []
    real = learner_module.grad_scaler
    monkeypatch.setattr(learner_module, "grad_scaler", lambda d, p: scalers.append(real(d, p)) or scalers[-1])
    calls: list[str] = []
    for name in ("scale", "step", "update"):
        method = getattr(torch.amp.GradScaler, name)
        monkeypatch.setattr(torch.amp.GradScaler, name,
                            lambda self, *a, _m=method, _n=name, **k: calls.append(_n) or _m(self, *a, **k))
    dtypes: list[torch.dtype] = []

    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = learner.model(x)["logits"][:, :2]
        dtypes.append(out.dtype)
        return F.cross_entropy(out, y)

    images = learner.data.train.of_classes([0, 1])
    learner.fit(learner.batches(images.images[:6], images.labels[:6], train=True), 1, 0.1, loss,
                list(learner.model.parameters()))
    assert dtypes == [torch.float16] and calls == ["scale", "step", "update"]
    assert len(scalers) == 1 and scalers[0].is_enabled() and math.isfinite(scalers[0].get_scale())


def test_a_sweep_style_validation_refuses_fp16_on_cpu_in_one_line():
    with pytest.raises(ConfigError) as err:
        build_config({"device": "cpu", "train": {"precision": "fp16"}})
    assert str(err.value) == FP16_ON_CPU
    with pytest.raises(ConfigError, match=r"train.precision: 'fp8' is not allowed"):
        build_config({"train": {"precision": "fp8"}})


# ----------------------------------------------------------------------------- channels-last

def test_channels_last_batches_hold_the_same_values():
    images = np.random.default_rng(0).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(12) % 3
    for train in (True, False):
        plain = BatchSource(images, labels, torch.device("cpu"), train, torch.Generator().manual_seed(1))
        cl = BatchSource(images, labels, torch.device("cpu"), train, torch.Generator().manual_seed(1),
                         channels_last=True)
        (x, y), (xc, yc) = plain.take(torch.arange(12)), cl.take(torch.arange(12))
        assert torch.equal(x, xc) and torch.equal(y, yc)
        assert xc.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_lays_out_the_model_and_its_run_stays_within_tolerance(fp32_run):
    learner = make_learner(smoke_config(train={"channels_last": True}))
    learner.model.expand(2)
    images = learner.data.train.of_classes([0, 1])
    learner.fit(learner.batches(images.images, images.labels, train=True), 1, 0.1,
                lambda x, y: F.cross_entropy(learner.model(x)["logits"][:, :2], y),
                list(learner.model.parameters()))
    convs = [p for p in learner.model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert_within_run_tolerance(longer_run("train.channels_last=true"), fp32_run)


def test_as_fp32_reads_reduced_precision_results_as_float32():
    out = as_fp32({"a": torch.ones(2, dtype=torch.bfloat16), "b": (torch.ones(1, dtype=torch.float16), 3),
                   "c": torch.ones(1, dtype=torch.long)})
    assert out["a"].dtype == torch.float32 and out["b"][0].dtype == torch.float32 and out["b"][1] == 3
    assert out["c"].dtype == torch.long
    with autocast(torch.device("cpu"), "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    with autocast(torch.device("cpu"), "bf16"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


# ----------------------------------------------------------------------------- CUDA only

@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_batches_are_the_cpu_batches():
    images = np.random.default_rng(0).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(40) % 4
    for train in (True, False):
        cpu = BatchSource(images, labels, torch.device("cpu"), train, torch.Generator().manual_seed(2))
        gpu = BatchSource(images, labels, torch.device("cuda"), train, torch.Generator().manual_seed(2))
        for (x, y), (xg, yg) in zip(cpu.epoch(16), gpu.epoch(16), strict=True):
            assert xg.is_cuda and xg.is_contiguous() and torch.equal(y, yg.cpu())
            torch.testing.assert_close(xg.cpu(), x.contiguous(), rtol=0, atol=1e-6)


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_mixed_precision_run_within_tolerance_of_fp32(precision):
    sets = ["device=cuda", "train.channels_last=true"]
    ref = longer_run("device=cuda")
    assert_within_run_tolerance(longer_run(*sets, f"train.precision={precision}"), ref)
