"""The plug-in seam: core modules name no plug-in, every module imports on its own, the schema is
assembled from the method and plug-in registries, and the training loop runs a plug-in's hooks
in their stated order with their batches and loss terms."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import get_args

import numpy as np
import pytest
import torch
from smoke_helpers import smoke_config

from raycil.config import ConfigError, ExperimentConfig, MethodConfig, build_config
from raycil.data.protocol import PhaseContext
from raycil.learner.learner import Learner
from raycil.methods.registry import METHODS
from raycil.plugins.assembly import exemplar_codec, learner_plugins
from raycil.plugins.registry import PLUGINS
from raycil.plugins.seam import TrainingHooks

PLUGIN_PACKAGES = tuple(f"raycil.plugins.{p.name}" for p in PLUGINS)


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_core_modules_load_no_plugin_package():
    """Importing the learner, the phase loop and every memory module loads no plug-in package
    (nor the registry that names them): they get their plug-in parts handed to them."""
    out = run_python("""
        import sys
        import raycil.learner.learner, raycil.learner.phases, raycil.memory.budget, raycil.memory.codec
        import raycil.memory.selection, raycil.memory.service, raycil.memory.store
        print(" ".join(sorted(m for m in sys.modules if m.startswith("raycil."))))
    """)
    loaded = out.split()
    assert "raycil.learner.learner" in loaded and "raycil.memory.store" in loaded
    assert not [m for m in loaded if m.startswith(PLUGIN_PACKAGES) or m == "raycil.plugins.registry"], loaded


def test_every_module_imports_on_its_own():
    """No import cycle: each module of the package imports first, in a fresh module table."""
    out = run_python("""
        import importlib, pkgutil, sys
        import raycil
        names = sorted(m.name for m in pkgutil.walk_packages(raycil.__path__, "raycil."))
        for name in names:
            for loaded in [m for m in sys.modules if m == "raycil" or m.startswith("raycil.")]:
                del sys.modules[loaded]
            importlib.import_module(name)
        print(len(names))
    """)
    assert int(out) > 40


def test_schema_is_assembled_from_the_registries():
    assert set(get_args(MethodConfig.model_fields["name"].annotation)) == set(METHODS)
    for name, method in METHODS.items():
        if method.settings is not None:
            assert MethodConfig.model_fields[name].annotation is method.settings
    for plugin in PLUGINS:
        assert ExperimentConfig.model_fields[plugin.name].annotation is plugin.settings
    cfg = smoke_config()
    assert learner_plugins(cfg) == [] and type(exemplar_codec(cfg)).__name__ == "RawCodec"


def test_one_codec_per_memory():
    with pytest.raises(ConfigError, match="cim and mrdc both store the exemplars"):
        build_config({"cim": {"boxes": "full"}, "mrdc": {"quality": 50}})
    cfg = build_config({"cim": {"artifact_aug": True}, "mrdc": {"quality": 50}})  # CIM trains, MRDC stores
    assert [type(p).__name__ for p in learner_plugins(cfg)] == ["CimPlugin", "MrdcPlugin"]
    assert type(exemplar_codec(cfg)).__name__ == "JpegCodec"


class RecordingHooks(TrainingHooks):
    """Appends two fixed samples of class 0 to every batch and adds a known loss term."""

    def __init__(self, x_extra: torch.Tensor):
        self.x_extra, self.calls, self.batch_sizes = x_extra, [], []

    def on_epoch_start(self, source, epoch, epochs):
        self.calls.append(f"start{epoch}")

    def compose_batch(self, x, y):
        self.calls.append("compose")
        return torch.cat([x, self.x_extra]), torch.cat([y, torch.zeros(2, dtype=y.dtype)])

    def extra_loss(self, x, y):
        self.calls.append("extra")
        self.batch_sizes.append(len(y))
        return torch.tensor(10.0)

    def after_step(self, x, y, lr_ratio):
        self.calls.append("after")

    def on_epoch_end(self, epoch, epochs, lr_ratio):
        self.calls.append(f"end{epoch}")


def test_fit_runs_hooks_in_order_with_their_batches_and_loss_terms():
    cfg = smoke_config(train={"batch_size": 8})
    reported: list[float] = []
    learner = Learner(cfg, [], progress=lambda desc, step, total, loss, epochs: reported.append(float(loss)))
    learner.model.expand(2)
    data = learner.data.train.of_classes([0, 1])
    x_extra, _ = learner.batches(data.images[:2], data.labels[:2], train=False).sample(2)
    hooks = RecordingHooks(x_extra)
    seen: list[int] = []
    base_losses: list[float] = []

    def loss_fn(x, y):
        seen.append(len(y))
        loss = torch.nn.functional.cross_entropy(learner.model(x)["logits"][:, :2], y)
        base_losses.append(float(loss.detach()))
        return loss

    learner.fit(learner.batches(data.images, data.labels, train=True), 2, 0.01, loss_fn,
                list(learner.model.parameters()), hooks=[hooks])
    steps = -(-len(data) // 8)
    assert hooks.calls == [c for e in range(2) for c in
                           [f"start{e}", *["compose", "extra", "after"] * steps, f"end{e}"]]
    assert seen == hooks.batch_sizes and seen[0] == 8 + 2 and sum(seen[:steps]) == len(data) + 2 * steps
    np.testing.assert_allclose(reported, np.asarray(base_losses) + 10.0, rtol=1e-6)


def test_a_plugin_holds_out_data_and_its_state_is_checkpointed():
    cfg = smoke_config(cim={"boxes": "cam", "phase_wise_tau": True})
    learner = Learner(cfg, learner_plugins(cfg))
    learner.train_phase(PhaseContext(1, 3, 0, 2), (np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, np.int64)))
    assert learner.last_fit["train_images"] == 36  # 40 images of phase 1 minus the 10% held out
    state = learner.state()
    assert state["plugins"] == [{"branch": None, "tau": 0.6}]
