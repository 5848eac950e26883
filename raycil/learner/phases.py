"""The phase driver: the one copy of the phase loop, used by ``raycil.run`` (the learner and the
memory as in-process objects) and by the Tune trial (the same two interfaces over Ray actors,
``raycil.sweep.actors.RemoteLearner`` / ``RemoteMemory``).

    for phase in start..N:
        learner.train_phase(ctx, memory.exemplars(), memory.generator())  # method + plug-ins
        memory.update(ctx, learner.exemplar_candidates(ctx))   # selection, the memory's codec
        memory.rewrite(learner.refine_exemplars(ctx, memory.exemplars()))  # if a plug-in optimises them
        learner.after_phase(ctx, memory.exemplars())           # balanced FT, NME means, ...
        memory.keep_generator(learner.record_generator(ctx))   # if a plug-in records one (not after N)
        metrics = learner.evaluate(ctx) + memory.stats()
        on_phase(metrics, history)                             # print / tune.report + checkpoint

``E``, ``C`` and ``G`` are how exemplars, candidates and a generator's weights travel from one
side to the other: the values themselves in-process, object references between actors (they
never pass through the driver).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from raycil.data.protocol import PhaseContext, run_contexts
from raycil.data.registry import class_labels
from raycil.metrics import bytes_kept, run_summary

if TYPE_CHECKING:
    from raycil.experiment import Experiment

E = TypeVar("E")
C = TypeVar("C")
G = TypeVar("G")


class LearnerSide(Protocol[E, C, G]):
    """The learner as the phase loop drives it (:class:`raycil.learner.learner.Learner`)."""

    def train_phase(self, ctx: PhaseContext, exemplars: E,
                    generator: G | None = None) -> dict[str, float]: ...

    def exemplar_candidates(self, ctx: PhaseContext, with_features: bool) -> C: ...

    def refine_exemplars(self, ctx: PhaseContext, exemplars: E) -> E: ...

    def after_phase(self, ctx: PhaseContext, exemplars: E) -> None: ...

    def record_generator(self, ctx: PhaseContext) -> G: ...

    def evaluate(self, ctx: PhaseContext, first_classes: int) -> dict[str, float]: ...


class MemorySide(Protocol[E, C, G]):
    """The memory as the phase loop drives it (:class:`raycil.memory.service.MemoryService`)."""

    def exemplars(self) -> E: ...

    def generator(self) -> G | None: ...

    def keep_generator(self, state: G) -> None: ...

    def needs_features(self) -> bool: ...

    def update(self, ctx: PhaseContext, candidates: C) -> None: ...

    def rewrite(self, exemplars: E) -> None: ...

    def stats(self) -> dict[str, float]: ...


PhaseCallback = Callable[[dict[str, Any], list[dict[str, Any]]], None]


def run_phases(cfg: Experiment, learner: LearnerSide[E, C, G], memory: MemorySide[E, C, G], *,
               history: list[dict[str, Any]] | None = None, on_phase: PhaseCallback | None = None,
               ) -> dict[str, Any]:
    """Run the phases after those in ``history`` (a resumed run passes its finished phases).

    ``on_phase(metrics, history)`` runs after every phase, when learner and memory hold the
    state at the end of that phase (the moment to checkpoint)."""
    history = list(history or [])
    contexts = run_contexts(cfg.protocol, cfg.num_classes)
    first_classes = contexts[0].total
    for ctx in contexts[len(history):]:
        generator = memory.generator() if cfg.records_generator else None
        fit = learner.train_phase(ctx, memory.exemplars(), generator)
        if cfg.keeps_memory:
            memory.update(ctx, learner.exemplar_candidates(ctx, memory.needs_features()))
            if cfg.refines_exemplars:
                memory.rewrite(learner.refine_exemplars(ctx, memory.exemplars()))
        learner.after_phase(ctx, memory.exemplars())
        if cfg.records_generator and ctx.phase < ctx.num_phases:
            memory.keep_generator(learner.record_generator(ctx))
        metrics = {"phase": ctx.phase, "classes": ctx.total, **learner.evaluate(ctx, first_classes),
                   **memory.stats(), **fit}
        metrics["bytes_kept"] = bytes_kept(metrics)
        history.append(metrics)
        if on_phase is not None:
            on_phase(metrics, history)
    return {"classes": class_labels(cfg.dataset), "phases": history, "summary": run_summary(history)}
