"""The learner side of the MFGR plug-in (Xin et al., memory-free generative replay, §5.3).

At the end of every phase but the last it records the phase's knowledge: a fresh generator
trained from the final network alone (Eq. 7, :func:`~raycil.plugins.mfgr.recording.record_generator`),
whose weights go to the memory; at the next phase it rebuilds that generator from the weights the
memory serves (``host.generator_state``) and trains with generated old-class images
(Eq. 8, :class:`~raycil.plugins.mfgr.inheritance.GeneratedReplay`). No image of an old class is kept
anywhere: the memory holds the generator only (``generator_bytes`` / ``generator_units``).

Per-phase statistics: of the recording, ``mfgr_steps`` (generator steps), ``mfgr_loss_*`` (the
last step's Eq. 7 terms),
``mfgr_coverage`` / ``mfgr_balance`` / ``mfgr_confidence`` (how the network classifies fresh
samples: share of its classes hit, normalised entropy of the class histogram, mean top
probability); of the replay, ``mfgr_generated`` (images trained on),
``mfgr_replay_bytes`` (what serving them as float32 batches would move, against the generator's
``generator_bytes`` moved once), ``mfgr_batch_spread`` (mean max − min per-class count in a
generated batch) and ``mfgr_weight`` (λ4). Its time is measured by ``benchmarks/bench_mfgr.py``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np
import torch

from raycil.data.config import input_size
from raycil.data.imageset import ImageSet
from raycil.data.protocol import PhaseContext
from raycil.memory.store import Exemplars
from raycil.methods.lwf import step_weight
from raycil.plugins.mfgr.config import MfgrConfig
from raycil.plugins.mfgr.generator import Generator
from raycil.plugins.mfgr.inheritance import GeneratedReplay
from raycil.plugins.mfgr.recording import record_generator
from raycil.plugins.seam import GeneratorState, LearnerHost, LearnerPlugin, TrainingHooks

if TYPE_CHECKING:
    from raycil.experiment import Experiment


def stream_seed(seed: int, phase: int, stream: int) -> int:
    """A torch seed for one random stream of a phase (recording, replay), from the run's seed."""
    return int(np.random.default_rng([seed, phase, stream]).integers(2**31))


class MfgrPlugin(LearnerPlugin):
    def __init__(self, settings: MfgrConfig, cfg: Experiment):
        self.settings = settings
        self.seed, self.epochs, self.temperature = cfg.seed, cfg.train.epochs, cfg.method.kd_temperature
        self.side = input_size(cfg.dataset)
        self.replay: GeneratedReplay | None = None
        self.record_stats: dict[str, float] = {}

    def iterations(self) -> int:
        """Generator steps per recording: the configured ones, or with ``rescale`` those shrunk
        by the later phases' epochs over ``of_epochs``."""
        s = self.settings
        return max(1, round(s.iterations * self.epochs / s.of_epochs)) if s.rescale else s.iterations

    def phase_hooks(self, host: LearnerHost, ctx: PhaseContext, new: ImageSet,
                    exemplars: Exemplars) -> TrainingHooks | None:
        self.replay, self.record_stats = None, {}
        if ctx.is_first or host.generator_state is None:
            return None
        s = self.settings
        generator = Generator(self.side, s.latent_dim, s.width)
        generator.load_state_dict(host.generator_state)
        teacher = copy.deepcopy(host.model).eval().requires_grad_(False)
        self.replay = GeneratedReplay(host, generator.to(host.device).train(), teacher, ctx.known,
                                      step_weight(ctx), s.ratio, s.pool, self.temperature,
                                      torch.Generator().manual_seed(stream_seed(self.seed, ctx.phase, 37)))
        return self.replay

    def record_generator(self, host: LearnerHost, ctx: PhaseContext) -> GeneratorState:
        generator, self.record_stats = record_generator(
            host.model, ctx.total, self.settings, self.side, self.iterations(), host.device,
            stream_seed(self.seed, ctx.phase, 31))
        return {k: v.detach().cpu() for k, v in generator.state_dict().items()}

    def stats(self) -> dict[str, float]:
        out = dict(self.record_stats)
        if self.replay is not None:
            out.update(mfgr_generated=float(self.replay.generated),
                       mfgr_replay_bytes=float(self.replay.generated * 3 * self.side ** 2 * 4),
                       mfgr_batch_spread=float(np.mean(self.replay.per_class_spread or [0.0])),
                       mfgr_weight=self.replay.weight)
        return out
