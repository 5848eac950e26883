"""The phase driver: the one copy of the phase loop, used by ``raycil.run`` (in-process objects)
and by the Tune trial (actor handles behind the same call interface).

    for phase in start..N:
        learner.train_phase(ctx, memory.exemplars())       # method + plug-ins
        memory.update(ctx, learner.exemplar_candidates(ctx))   # selection (herding: embeddings; CIM: boxes)
        learner.after_phase(ctx, memory.exemplars())        # balanced FT, NME means, ...
        metrics = learner.evaluate(ctx) + memory.stats()
        on_phase(metrics, state)                            # print / tune.report + checkpoint
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from raycil.config import ExperimentConfig
from raycil.data.protocol import phase_sizes
from raycil.methods import METHODS, PhaseContext
from raycil.metrics import run_summary


class Call(Protocol):
    """Calls ``obj.name(*args)``: directly for local objects, ``ray.get(actor.name.remote())`` else."""

    def __call__(self, obj: Any, name: str, *args: Any) -> Any: ...


def local_call(obj: Any, name: str, *args: Any) -> Any:
    return getattr(obj, name)(*args)


def phase_contexts(cfg: ExperimentConfig) -> list[PhaseContext]:
    sizes = phase_sizes(cfg.protocol, cfg.num_classes)
    out, known = [], 0
    for i, size in enumerate(sizes):
        out.append(PhaseContext(i + 1, len(sizes), known, known + size))
        known += size
    return out


PhaseCallback = Callable[[dict[str, Any], list[dict[str, Any]]], None]


def run_phases(cfg: ExperimentConfig, learner: Any, memory: Any, *, call: Call = local_call,
               history: list[dict[str, Any]] | None = None, on_phase: PhaseCallback | None = None,
               ) -> dict[str, Any]:
    """Run the phases after those in ``history`` (a resumed run passes its finished phases).

    ``on_phase(metrics, history)`` runs after every phase, when learner and memory hold the
    state at the end of that phase (the moment to checkpoint)."""
    history = list(history or [])
    contexts = phase_contexts(cfg)
    first_classes = contexts[0].total
    uses_memory = METHODS[cfg.method.name].uses_memory and cfg.memory.mode != "none"
    for ctx in contexts[len(history):]:
        fit = call(learner, "train_phase", ctx, call(memory, "exemplars"))
        if uses_memory:
            needs = call(memory, "needs_features_for", ctx)
            call(memory, "update", ctx, call(learner, "exemplar_candidates", ctx, needs))
        call(learner, "after_phase", ctx, call(memory, "exemplars"))
        metrics = {"phase": ctx.phase, "classes": ctx.total, **call(learner, "evaluate", ctx, first_classes),
                   **call(memory, "stats"), **fit}
        history.append(metrics)
        if on_phase is not None:
            on_phase(metrics, history)
    return {"phases": history, "summary": run_summary(history)}
