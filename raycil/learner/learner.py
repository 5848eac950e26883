"""The learner: holds the CIL network, its method and the learner sides of the active plug-ins,
trains and evaluates one phase.

This is the state a LearnerActor hosts; ``python -m raycil.run`` uses it in-process. The one
training loop of the code base lives here (``fit``): SGD with momentum and weight decay, cosine
or multistep schedule, optional SS-IL replay batches (every batch of new data joined by
``replay_batch_size`` exemplars drawn with replacement, SS-IL Algorithm 1), optionally training
per-filter scales instead of the convolutions (``model.weight_transfer``), and the plug-ins'
:class:`~raycil.plugins.seam.TrainingHooks`. Plug-ins arrive built
(``raycil.plugins.assembly.learner_plugins``) and reach the learner only through the
:class:`~raycil.plugins.seam.LearnerHost` methods below.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from raycil.data.imageset import ImageSet, concat_images
from raycil.data.protocol import PhaseContext, phase_contexts
from raycil.data.registry import load_dataset
from raycil.learner.batches import BatchSource
from raycil.learner.inference import autocast, check_precision, infer
from raycil.memory.codec import Candidates
from raycil.memory.service import GeneratorState
from raycil.memory.store import Exemplars
from raycil.methods.registry import METHODS
from raycil.metrics import VAL_PREFIX, phase_metrics
from raycil.models.transfer import attach_transfer, merge_transfer
from raycil.plugins.seam import LearnerPlugin, PhaseCandidates, TrainingHooks
from raycil.seeding import phase_seed, resolve_device, seed_everything

if TYPE_CHECKING:
    from raycil.experiment import Experiment
    from raycil.learner.config import ScheduleConfig, TrainConfig

T = TypeVar("T")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def lr_schedule(opt: torch.optim.Optimizer, epochs: int,
                sched: ScheduleConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """Cosine annealing over the phase, or steps of ``gamma`` at fractions of its epochs."""
    if sched.kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    milestones = sorted({max(1, round(m * epochs)) for m in sched.milestones})
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma=sched.gamma)


def phase_lr(train: TrainConfig, phase: int) -> float:
    """An incremental phase's initial learning rate: ``train.lr``, or with ``lr_over_phases:
    inverse`` lr / p for the 1-based phase p (SS-IL Algorithm 1, its code's lr / (t + 1))."""
    return train.lr / phase if train.lr_over_phases == "inverse" else train.lr


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler | None:
    """fp16's loss scaling (its small gradients underflow without it); none for fp32 and bf16."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


class Learner:
    """The CIL network of one run, trained phase by phase. ``progress(desc, step, total_steps,
    loss, epochs)``, if given, is called after every step of ``fit`` (``loss``: a 0-dim tensor)."""

    def __init__(self, cfg: Experiment, plugins: Sequence[LearnerPlugin],
                 progress: Callable[..., Any] | None = None):
        self.cfg = cfg
        self.data = load_dataset(cfg.dataset)
        self.device = resolve_device(cfg.device)
        self.precision = cfg.train.precision
        check_precision(self.device, self.precision)
        spec = METHODS[cfg.method.name]
        self.trains_on_all_seen = spec.trains_on_all_seen
        settings = getattr(cfg.method, spec.name) if spec.settings is not None else None  # method.<name>
        self.method = spec.method_class()(cfg, self.data.image_size, settings)
        seed_everything(cfg.seed)
        self.model: nn.Module = self.method.build_model().to(self.device)
        self.generator = torch.Generator()
        self.progress = progress
        self.last_fit: dict[str, float] = {}
        self.plugins = list(plugins)
        self.generator_state: GeneratorState | None = None

    # ------------------------------------------------------------------ what plug-ins use (LearnerHost)
    def batches(self, images: Any, labels: np.ndarray, train: bool, cam: bool = False) -> BatchSource:
        return BatchSource(images, labels, self.device, train, self.generator, cam, self.data.augment,
                           self.cfg.train.channels_last)

    def model_layout(self) -> None:
        """The network in channels-last (``train.channels_last``; its shape grows by phase, so this
        runs before every training and inference loop: a no-op for tensors already laid out)."""
        if self.cfg.train.channels_last:
            self.model.to(memory_format=torch.channels_last)

    def loss(self, x: torch.Tensor, y: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        return self.method.loss(self, x, y, ctx)

    def train_mode(self) -> None:
        self.method.train_mode(self.model)

    def infer(self, images: Any, labels: np.ndarray, fn: Callable[[torch.Tensor, torch.Tensor], T],
              cam: bool = False) -> list[T]:
        source = self.batches(images, labels, train=False, cam=cam)
        self.model_layout()
        return infer(self.model, source, self.cfg.train.eval_batch_size, fn, self.precision)

    def embed(self, images: Any, flip: bool = False) -> torch.Tensor:
        """Pooled embeddings (eval mode, test transform), optionally averaged with the mirror."""
        def features(x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
            f = self.model(x)["features"]
            if flip:
                f = (F.normalize(f, dim=1) + F.normalize(self.model(x.flip(3))["features"], dim=1)) / 2
            return f

        feats = self.infer(images, np.zeros(len(images), np.int64), features)
        return torch.cat(feats) if feats else torch.empty(0)

    # ------------------------------------------------------------------ training
    def fit(self, source: BatchSource, epochs: int, lr: float, loss_fn: LossFn,
            params: Sequence[nn.Parameter], replay: BatchSource | None = None, desc: str = "",
            hooks: Sequence[TrainingHooks] = (), first_phase: bool = False,
            schedule: ScheduleConfig | None = None, frozen_bn: bool = False) -> None:
        """The training loop: ``epochs`` passes over ``source`` with SGD and the schedule (the
        first phase's weight decay and schedule if ``first_phase`` and configured; ``schedule``
        given: that one). ``frozen_bn``: batch-norm layers stay in eval mode, their running
        statistics unchanged (LUCIR's code, ``fix_bn``, in its class-balanced fine-tuning). With bf16 /
        fp16 (``train.precision``) the loss and the hooks' extra losses are computed under
        autocast, and fp16 scales the loss (GradScaler); the hooks' own steps (``after_step``,
        ``on_epoch_end``: CIM's φ updates) run outside autocast, in fp32."""
        t = self.cfg.train
        self.model_layout()
        scaler = grad_scaler(self.device, self.precision)
        decay = t.weight_decay_first if first_phase and t.weight_decay_first is not None else t.weight_decay
        opt = torch.optim.SGD(params, lr=lr, momentum=t.momentum, weight_decay=decay, nesterov=t.nesterov)
        if schedule is None:
            schedule = t.schedule_first if first_phase and t.schedule_first else t.schedule
        sched = lr_schedule(opt, epochs, schedule)
        steps_per_epoch = -(-len(source) // t.batch_size)
        seen, start = 0, time.perf_counter()
        self.method.train_mode(self.model)
        if frozen_bn:
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        for epoch in range(epochs):
            for h in hooks:
                h.on_epoch_start(source, epoch, epochs)
            for step, (x, y) in enumerate(source.epoch(t.batch_size)):
                if replay is not None:
                    xr, yr = replay.sample(t.replay_batch_size)
                    x, y = torch.cat([x, xr]), torch.cat([y, yr])
                for h in hooks:
                    x, y = h.compose_batch(x, y)
                with autocast(self.device, self.precision):
                    loss = loss_fn(x, y)
                    for h in hooks:
                        extra = h.extra_loss(x, y)
                        if extra is not None:
                            loss = loss + extra
                opt.zero_grad(set_to_none=True)
                if scaler is None:
                    loss.backward()
                    opt.step()
                else:  # fp16: unscaled inside step (skipped on inf / NaN), the scale adapted
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                self.method.after_step(self.model)
                for h in hooks:
                    h.after_step(x, y, opt.param_groups[0]["lr"] / lr)
                seen += len(y)
                if self.progress is not None:  # the loss as a tensor: reading it waits for a GPU
                    self.progress(desc, epoch * steps_per_epoch + step + 1, epochs * steps_per_epoch,
                                  loss.detach(), epochs)
            for h in hooks:
                h.on_epoch_end(epoch, epochs, opt.param_groups[0]["lr"] / lr)
            sched.step()
        if self.device.type == "cuda":  # the queued kernels are part of the training time
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - start
        self.last_fit = {"train_images": seen, "train_seconds": elapsed,
                         "images_per_s": seen / elapsed if elapsed > 0 else float("nan")}

    def train_phase(self, ctx: PhaseContext, exemplars: Exemplars,
                    generator: GeneratorState | None = None) -> dict[str, float]:
        """Reseed from (seed, phase), adapt the network, and train on this phase's data
        (``generator``: the weights the memory serves, for the plug-ins as ``generator_state``)."""
        self.generator_state = generator
        seed = phase_seed(self.cfg.seed, ctx.phase)
        seed_everything(seed)
        self.generator.manual_seed(seed)
        self.method.before_phase(self, ctx)
        self.model.to(self.device)
        t = self.cfg.train
        new: ImageSet = self.data.train.of_classes(
            range(0, ctx.total) if self.trains_on_all_seen else ctx.new_classes)
        for plugin in self.plugins:
            new = plugin.phase_data(ctx, new)
        ex_images, ex_labels = exemplars
        replay = None
        images, labels = new.images, new.labels
        if self.cfg.keeps_memory and len(ex_labels):
            if t.replay_batch_size > 0:
                replay = self.batches(ex_images, ex_labels, train=True)
            else:
                images, labels = concat_images(images, ex_images), np.concatenate([labels, ex_labels])
        epochs, lr = (t.epochs_first, t.lr_first) if ctx.is_first else (t.epochs, phase_lr(t, ctx.phase))
        self.method.before_training(self, ctx, images, labels)
        hooks = [h for p in self.plugins if (h := p.phase_hooks(self, ctx, new, exemplars)) is not None]
        transfer = self.cfg.model.weight_transfer and not ctx.is_first
        if transfer:
            attach_transfer(self.model)
        self.fit(self.batches(images, labels, train=True), epochs, lr,
                 lambda x, y: self.method.loss(self, x, y, ctx), self.method.optim_params(self.model),
                 replay=replay, desc=f"phase {ctx.phase}/{ctx.num_phases}", hooks=hooks,
                 first_phase=ctx.is_first)
        if transfer:
            merge_transfer(self.model)
        fit_stats = dict(self.last_fit)
        self.method.after_training(self, ctx, images, labels)
        return fit_stats

    def after_phase(self, ctx: PhaseContext, exemplars: Exemplars) -> None:
        """Optional class-balanced fine-tuning on the (balanced) memory, then the method's hook."""
        bft = self.cfg.train.balanced_finetune
        ex_images, ex_labels = exemplars
        if bft.epochs > 0 and not ctx.is_first and len(ex_labels):
            def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                if bft.loss == "method":
                    return self.method.loss(self, x, y, ctx)
                return F.cross_entropy(self.model(x)["logits"][:, : ctx.total], y)

            self.fit(self.batches(ex_images, ex_labels, train=True), bft.epochs, bft.lr, loss,
                     self.finetune_params(), desc="balanced fine-tuning", schedule=bft.schedule,
                     frozen_bn=bft.freeze_bn)
        self.method.after_phase(self, ctx, exemplars)

    def finetune_params(self) -> list[nn.Parameter]:
        """What the class-balanced fine-tuning trains: the classifier (``head_only``) or the whole
        network, without a cosine classifier's scale η unless ``train_scale``."""
        bft = self.cfg.train.balanced_finetune
        module = self.model.head if bft.head_only else self.model
        scale = getattr(self.model.head, "scale", None)
        return [p for p in module.parameters() if bft.train_scale or p is not scale]

    # ------------------------------------------------------------------ exemplar candidates
    def exemplar_candidates(self, ctx: PhaseContext, with_features: bool) -> PhaseCandidates:
        """Per new class, what the memory selects from: a plug-in's candidates (as its codec
        stores them) or, without one, herding's embeddings of the original images."""
        for plugin in self.plugins:
            candidates = plugin.candidates(self, ctx, with_features)
            if candidates is not None:
                return candidates
        return {c: Candidates(self.embed(self.data.train.of_classes([c]).images).cpu().numpy()
                              if with_features else None) for c in ctx.new_classes}

    def refine_exemplars(self, ctx: PhaseContext, exemplars: Exemplars) -> Exemplars:
        """The memory's exemplars as the plug-ins rewrite them (in registry order)."""
        for plugin in self.plugins:
            refined = plugin.refine_exemplars(self, ctx, exemplars)
            if refined is not None:
                exemplars = refined
        return exemplars

    def record_generator(self, ctx: PhaseContext) -> GeneratorState | None:
        """The generator a plug-in records from the network at the end of this phase, if any."""
        for plugin in self.plugins:
            state = plugin.record_generator(self, ctx)
            if state is not None:
                return state
        return None

    def class_means(self, exemplars: Exemplars, total: int) -> torch.Tensor:
        """Normalised mean of normalised exemplar embeddings per class (iCaRL NME, §2.1)."""
        images, labels = exemplars
        feats = F.normalize(self.embed(images, flip=True), dim=1)
        means = torch.zeros(total, feats.shape[1], device=feats.device)
        for c in np.unique(labels):
            means[c] = F.normalize(feats[torch.as_tensor(labels == c)].mean(0), dim=0)
        return means

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, ctx: PhaseContext, first_classes: int) -> dict[str, float]:
        """Metrics on the test data of all classes seen so far (``metrics.phase_metrics``), the
        same of the primary classifier on their validation data (``val_`` keys; none without a
        validation split), the plug-ins' statistics, and the bytes of the network kept for the
        next phase (``network_bytes``: every parameter and buffer)."""
        ends = [c.total for c in phase_contexts(self.cfg.protocol, self.cfg.num_classes)[: ctx.phase]]
        test = self.data.test.of_classes(range(ctx.total))
        joined = self._scores(test, ctx)
        primary = "nme" if "nme" in joined and self.cfg.method.nme else "cnn"
        out = phase_metrics(joined[primary], test.labels, ctx.known, first_classes, group_ends=ends)
        for key, s in joined.items():
            if len(joined) > 1:
                out.update(phase_metrics(s, test.labels, ctx.known, first_classes, prefix=f"{key}_"))
        val = self.data.val.of_classes(range(ctx.total))
        if len(val):
            out.update(phase_metrics(self._scores(val, ctx)[primary], val.labels, ctx.known, first_classes,
                                     prefix=VAL_PREFIX, group_ends=ends))
        for plugin in self.plugins:
            out.update(plugin.stats())
        out["network_bytes"] = float(sum(t.numel() * t.element_size()
                                         for t in (*self.model.parameters(), *self.model.buffers())))
        return out

    def _scores(self, data: ImageSet, ctx: PhaseContext) -> dict[str, np.ndarray]:
        """The method's class scores of ``data`` per classifier (``cnn``, ``nme``, ...)."""
        def scores(x: torch.Tensor, _: torch.Tensor) -> dict[str, np.ndarray]:
            return {k: s.float().cpu().numpy() for k, s in self.method.predict(self, x, ctx).items()}

        batches = self.infer(data.images, data.labels, scores)
        return {k: np.concatenate([b[k] for b in batches]) for k in (batches[0] if batches else {})}

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        """The network (whole module: its shape grows by phase), the method's and the plug-ins' state."""
        return {"model": copy.deepcopy(self.model).cpu(), "method": self.method.state(),
                "plugins": [p.state() for p in self.plugins]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model = state["model"].to(self.device)
        self.method.load_state(state["method"])
        for plugin, saved in zip(self.plugins, state["plugins"], strict=True):
            plugin.load_state(saved, self.device)
