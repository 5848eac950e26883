"""The plug-in seam: how a system that composes with every CIL method (CIM, MRDC, ...) plugs in.

A plug-in is one package (``raycil/plugins/<name>/``) exporting a :class:`~raycil.plugins.spec.PluginSpec`,
registered with one line in ``raycil/plugins/registry.py``. The spec names the plug-in's config section
and schema and gives, for an experiment that turns it on, up to two parts:

- a :class:`LearnerPlugin` that lives with the learner (in the LearnerActor). It may hold out
  part of a phase's data, give training-loop hooks (:class:`TrainingHooks`: batch composition,
  extra loss terms, per-step and per-epoch hooks), describe the new classes' exemplar candidates
  for the memory, report per-phase statistics and keep checkpointed state. It reaches the
  learner only through :class:`LearnerHost`.
- an exemplar codec (:class:`~raycil.memory.codec.ExemplarCodec`) that lives with the memory
  (in the MemoryActor): how a selected candidate is stored and what it costs in memory units.

A learner side may also rewrite what the memory holds after each update (Mnemonics' optimised
exemplars): the phase loop hands it the stored exemplars and the memory re-encodes what it returns.
Or it may record the phase's knowledge as a generator (MFGR's knowledge recording): after each
phase but the last it trains one from the final network and returns its weights, which the
memory keeps (charged their bytes) and serves back at the next phase as ``host.generator_state``.

The learner, the memory and the phase loop import no plug-in: ``raycil.plugins.assembly`` builds the
active plug-ins' parts from the config and hands them over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import numpy as np
import torch
from torch import nn

from raycil.data.imageset import ImageSet
from raycil.data.protocol import PhaseContext
from raycil.data.registry import Dataset
from raycil.learner.batches import BatchSource
from raycil.memory.codec import Candidates
from raycil.memory.service import GeneratorState
from raycil.memory.store import Exemplars

T = TypeVar("T")
PhaseCandidates = Mapping[int, Candidates[Any]]  # new class -> what the memory selects from


class LearnerHost(Protocol):
    """What a learner-side plug-in may use of the learner it is plugged into."""

    model: nn.Module          # the CIL network (its modules, CAM weights, parameters)
    device: torch.device
    data: Dataset             # the run's train / test images in class-order labels
    generator_state: GeneratorState | None  # the generator the memory serves this phase, if any

    def loss(self, x: torch.Tensor, y: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        """The method's loss of one batch."""
        ...

    def train_mode(self) -> None:
        """Put the network back in the method's training mode (after inference inside a phase)."""
        ...

    def infer(self, images: Any, labels: np.ndarray, fn: Callable[[torch.Tensor, torch.Tensor], T],
              cam: bool = False) -> list[T]:
        """``fn(x, y)`` over evaluation batches of ``images`` (``cam``: the CAM transform)."""
        ...

    def embed(self, images: Any) -> torch.Tensor:
        """Pooled embeddings of ``images`` (evaluation transform)."""
        ...


class TrainingHooks:
    """A plug-in's part in the training loop (``Learner.fit``); every hook defaults to nothing.

    Per epoch: ``on_epoch_start``; per step: ``compose_batch`` (after any SS-IL replay batch is
    joined), the method's loss plus every ``extra_loss``, the optimizer step, ``after_step``;
    then ``on_epoch_end``. ``lr_ratio`` is the schedule's learning rate over its initial one."""

    def on_epoch_start(self, source: BatchSource, epoch: int, epochs: int) -> None:
        """Before an epoch's batches (``source`` serves them: CIM swaps some images in it)."""

    def compose_batch(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch the step trains on (e.g. generated old-class samples appended)."""
        return x, y

    def extra_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        """A term added to the method's loss of the batch, or None."""
        return None

    def after_step(self, x: torch.Tensor, y: torch.Tensor, lr_ratio: float) -> None:
        """After the optimizer step and the method's ``after_step``."""

    def on_epoch_end(self, epoch: int, epochs: int, lr_ratio: float) -> None:
        """After an epoch's batches, before the schedule steps."""


class LearnerPlugin:
    """The learner side of a plug-in; every hook defaults to doing nothing."""

    def phase_data(self, ctx: PhaseContext, data: ImageSet) -> ImageSet:
        """The part of the phase's new data the network trains on (CIM: minus a held-out share)."""
        return data

    def phase_hooks(self, host: LearnerHost, ctx: PhaseContext, new: ImageSet,
                    exemplars: Exemplars) -> TrainingHooks | None:
        """The training-loop hooks of this phase (``new``: what ``phase_data`` kept)."""
        return None

    def candidates(self, host: LearnerHost, ctx: PhaseContext, with_features: bool) -> PhaseCandidates | None:
        """The new classes' exemplar candidates, as this plug-in's codec stores them; None
        leaves them to the learner (embeddings of the original images)."""
        return None

    def refine_exemplars(self, host: LearnerHost, ctx: PhaseContext,
                         exemplars: Exemplars) -> Exemplars | None:
        """The memory's exemplars (all classes, in the order given) after this plug-in optimised
        them, for the memory to store instead (Mnemonics, Eq. 9-10); None leaves them. Runs
        after the memory update, before ``after_phase``, when the settings' ``refines_exemplars``."""
        return None

    def record_generator(self, host: LearnerHost, ctx: PhaseContext) -> GeneratorState | None:
        """A generator of the classes seen so far, trained from the final network of this phase,
        for the memory to keep and serve at the next phase (MFGR's knowledge recording); None
        records nothing. Runs after ``after_phase`` of every phase but the last, when the
        settings' ``records_generator``."""
        return None

    def stats(self) -> dict[str, float]:
        """Per-phase metrics (reported after the memory update)."""
        return {}

    def state(self) -> Any:
        """What a checkpoint keeps of this plug-in (None: nothing)."""
        return None

    def load_state(self, state: Any, device: torch.device) -> None:
        """Restore what :meth:`state` returned."""
