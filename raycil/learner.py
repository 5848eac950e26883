"""The learner: holds the CIL network and its method, trains and evaluates one phase.

This is the state a LearnerActor hosts; ``python -m raycil.run`` uses it in-process. The one
training loop of the code base lives here (``fit``): SGD with momentum and weight decay, cosine
or multistep schedule, optional SS-IL replay batches (every batch of new data joined by
``replay_batch_size`` exemplars drawn with replacement, SS-IL Algorithm 1).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from raycil.cim.plugin import CimPlugin
from raycil.config import ExperimentConfig
from raycil.data.batches import BatchSource
from raycil.data.imageset import ImageSet, concat_images
from raycil.data.registry import load_dataset
from raycil.methods import METHODS, PhaseContext
from raycil.metrics import phase_metrics
from raycil.seeding import phase_seed, resolve_device, seed_everything

Exemplars = tuple[Any, np.ndarray]  # (images: uint8 array or list of arrays, labels)
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class FitHooks(Protocol):
    """What a plug-in may do inside the training loop (CIM: artifact augmentation, φ updates);
    ``lr_ratio`` is the schedule's current learning rate over its initial one."""

    def on_epoch_start(self, source: BatchSource, epoch: int, epochs: int) -> None: ...

    def after_step(self, x: torch.Tensor, y: torch.Tensor, lr_ratio: float) -> None: ...

    def on_epoch_end(self, epoch: int, epochs: int, lr_ratio: float) -> None: ...


class Learner:
    """The CIL network of one run, trained phase by phase."""

    def __init__(self, cfg: ExperimentConfig, progress: Callable[..., Any] | None = None):
        self.cfg = cfg
        self.data = load_dataset(cfg.dataset)
        self.device = resolve_device(cfg.device)
        self.method = METHODS[cfg.method.name](cfg, self.data.image_size)
        seed_everything(cfg.seed)
        self.model: nn.Module = self.method.build_model().to(self.device)
        self.generator = torch.Generator()
        self.progress = progress
        self.last_fit: dict[str, float] = {}
        self.cim = CimPlugin(cfg) if cfg.cim.active else None

    # ------------------------------------------------------------------ training
    def batches(self, images: Any, labels: np.ndarray, train: bool, cam: bool = False) -> BatchSource:
        return BatchSource(images, labels, self.device, train, self.generator, cam)

    def _schedule(self, opt: torch.optim.Optimizer, epochs: int) -> torch.optim.lr_scheduler.LRScheduler:
        sched = self.cfg.train.schedule
        if sched.kind == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
        milestones = sorted({max(1, round(m * epochs)) for m in sched.milestones})
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma=sched.gamma)

    def fit(self, source: BatchSource, epochs: int, lr: float, loss_fn: LossFn,
            params: Sequence[nn.Parameter], replay: BatchSource | None = None, desc: str = "",
            hooks: FitHooks | None = None) -> None:
        """The training loop: ``epochs`` passes over ``source`` with SGD and the schedule."""
        t = self.cfg.train
        opt = torch.optim.SGD(params, lr=lr, momentum=t.momentum, weight_decay=t.weight_decay)
        sched = self._schedule(opt, epochs)
        steps_per_epoch = -(-len(source) // t.batch_size)
        seen, start = 0, time.perf_counter()
        self.method.train_mode(self.model)
        for epoch in range(epochs):
            if hooks is not None:
                hooks.on_epoch_start(source, epoch, epochs)
            for step, (x, y) in enumerate(source.epoch(t.batch_size)):
                if replay is not None:
                    xr, yr = replay.sample(t.replay_batch_size)
                    x, y = torch.cat([x, xr]), torch.cat([y, yr])
                loss = loss_fn(x, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                self.method.after_step(self.model)
                if hooks is not None:
                    hooks.after_step(x, y, opt.param_groups[0]["lr"] / lr)
                seen += len(y)
                if self.progress is not None:
                    self.progress(desc, epoch * steps_per_epoch + step + 1, epochs * steps_per_epoch,
                                  float(loss.detach()))
            if hooks is not None:
                hooks.on_epoch_end(epoch, epochs, opt.param_groups[0]["lr"] / lr)
            sched.step()
        elapsed = time.perf_counter() - start
        self.last_fit = {"train_images": seen, "train_seconds": elapsed,
                         "images_per_s": seen / elapsed if elapsed > 0 else float("nan")}

    def train_phase(self, ctx: PhaseContext, exemplars: Exemplars) -> dict[str, float]:
        """Reseed from (seed, phase), adapt the network, and train on this phase's data."""
        seed = phase_seed(self.cfg.seed, ctx.phase)
        seed_everything(seed)
        self.generator.manual_seed(seed)
        self.method.before_phase(self, ctx)
        self.model.to(self.device)
        t = self.cfg.train
        train = self.data.train
        new = train.of_classes(range(0, ctx.total) if self.method.trains_on_all_seen else ctx.new_classes)
        if self.cim is not None:
            new = self.cim.training_data(ctx, new)
        ex_images, ex_labels = exemplars
        replay = None
        images, labels = new.images, new.labels
        if self.method.uses_memory and len(ex_labels):
            if t.replay_batch_size > 0:
                replay = self.batches(ex_images, ex_labels, train=True)
            else:
                images, labels = concat_images(images, ex_images), np.concatenate([labels, ex_labels])
        epochs, lr = (t.epochs_first, t.lr_first) if ctx.is_first else (t.epochs, t.lr)
        self.method.before_training(self, ctx, images, labels)
        hooks = self.cim.phase_hooks(self, ctx, new, exemplars) if self.cim is not None else None
        self.fit(self.batches(images, labels, train=True), epochs, lr,
                 lambda x, y: self.method.loss(self, x, y, ctx), self.method.optim_params(self.model),
                 replay=replay, desc=f"phase {ctx.phase}/{ctx.num_phases}", hooks=hooks)
        fit_stats = dict(self.last_fit)
        self.method.after_training(self, ctx, images, labels)
        return fit_stats

    def after_phase(self, ctx: PhaseContext, exemplars: Exemplars) -> None:
        """Optional class-balanced fine-tuning on the (balanced) memory, then the method's hook."""
        bft = self.cfg.train.balanced_finetune
        ex_images, ex_labels = exemplars
        if bft.epochs > 0 and not ctx.is_first and len(ex_labels):
            head = self.model.head if bft.head_only else self.model
            self.fit(self.batches(ex_images, ex_labels, train=True), bft.epochs, bft.lr,
                     lambda x, y: F.cross_entropy(self.model(x)["logits"][:, : ctx.total], y),
                     list(head.parameters()), desc="balanced fine-tuning")
        self.method.after_phase(self, ctx, exemplars)

    # ------------------------------------------------------------------ features and evaluation
    @torch.no_grad()
    def embed(self, images: Any, flip: bool = False) -> torch.Tensor:
        """Pooled embeddings (eval mode, test transform), optionally averaged with the mirror."""
        self.model.eval()
        source = self.batches(images, np.zeros(len(images), np.int64), train=False)
        feats = []
        for x, _ in source.epoch(self.cfg.train.eval_batch_size, shuffle=False):
            f = self.model(x)["features"]
            if flip:
                f = (F.normalize(f, dim=1) + F.normalize(self.model(x.flip(3))["features"], dim=1)) / 2
            feats.append(f)
        return torch.cat(feats) if feats else torch.empty(0)

    def embed_classes(self, classes: Sequence[int]) -> dict[int, np.ndarray]:
        """Embeddings of every training image of each class (herding candidates)."""
        return {c: self.embed(self.data.train.of_classes([c]).images).cpu().numpy() for c in classes}

    def exemplar_candidates(self, ctx: PhaseContext, with_features: bool) -> dict[int, dict[str, Any]]:
        """Per new class, what the memory selects from: ``features`` (herding) of the images as
        they would be stored, and ``boxes`` when the CIM plug-in compresses them."""
        if self.cim is not None and self.cfg.cim.boxes != "none":
            return self.cim.candidates(self, ctx, with_features)
        feats = self.embed_classes(list(ctx.new_classes)) if with_features else {}
        return {c: {"features": feats.get(c)} for c in ctx.new_classes}

    def class_means(self, exemplars: Exemplars, total: int) -> torch.Tensor:
        """Normalised mean of normalised exemplar embeddings per class (iCaRL NME, §2.1)."""
        images, labels = exemplars
        feats = F.normalize(self.embed(images, flip=True), dim=1)
        means = torch.zeros(total, feats.shape[1], device=feats.device)
        for c in np.unique(labels):
            means[c] = F.normalize(feats[torch.as_tensor(labels == c)].mean(0), dim=0)
        return means

    @torch.no_grad()
    def evaluate(self, ctx: PhaseContext, first_classes: int) -> dict[str, float]:
        """Metrics on the test data of all classes seen so far (``metrics.phase_metrics``)."""
        self.model.eval()
        test: ImageSet = self.data.test.of_classes(range(ctx.total))
        scores: dict[str, list[np.ndarray]] = {}
        source = self.batches(test.images, test.labels, train=False)
        for x, _ in source.epoch(self.cfg.train.eval_batch_size, shuffle=False):
            for key, s in self.method.predict(self, x, ctx).items():
                scores.setdefault(key, []).append(s.float().cpu().numpy())
        joined = {k: np.concatenate(v) for k, v in scores.items()}
        primary = "nme" if "nme" in joined and self.cfg.method.nme else "cnn"
        out = phase_metrics(joined[primary], test.labels, ctx.known, first_classes)
        for key, s in joined.items():
            if len(joined) > 1:
                out.update(phase_metrics(s, test.labels, ctx.known, first_classes, prefix=f"{key}_"))
        if self.cim is not None:
            out.update(self.cim.stats)
        return out

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        """The network (whole module: its shape grows by phase) and the method's own state."""
        return {"model": copy.deepcopy(self.model).cpu(), "method": self.method.state(),
                "cim": self.cim.state() if self.cim is not None else None}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model = state["model"].to(self.device)
        self.method.load_state(state["method"])
        if self.cim is not None and state.get("cim") is not None:
            self.cim.load_state(state["cim"], self.device)
