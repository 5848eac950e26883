from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from memory_helpers import fill_phases

from raycil.memory.budget import EPS, Budget
from raycil.memory.codec import Candidates, PlainExemplar, RawCodec
from raycil.memory.store import ExemplarMemory
from raycil.plugins.cim.compression import random_box
from raycil.plugins.cim.storage import CimCodec
from raycil.plugins.mnemonics.storage import TensorCodec
from raycil.plugins.mrdc.jpeg import JpegCodec


def fill(memory: ExemplarMemory, phases: list[int], per_class: int,
         rng: np.random.Generator) -> Iterator[int]:
    """Plain exemplars: class c's images are all c, with random features for herding."""
    def add(c: int, share: float) -> None:
        images = np.full((per_class, 2, 2, 3), c, np.uint8)
        memory.add_class(c, images, Candidates(rng.normal(size=(per_class, 5))), share, rng)
    return fill_phases(memory, phases, add)


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(["fixed", "growing"]),
    units=st.integers(0, 300),
    phases=st.lists(st.integers(1, 7), min_size=1, max_size=6),
    per_class=st.integers(1, 40),
    selection=st.sampled_from(["herding", "random"]),
)
def test_budget_never_exceeded_and_classes_balanced(mode, units, phases, per_class, selection):
    memory = ExemplarMemory(Budget(mode, units), selection, RawCodec())
    for seen in fill(memory, phases, per_class, np.random.default_rng(0)):
        assert memory.units_used <= memory.budget.total(seen) + EPS
        counts = list(memory.counts().values())
        assert len(counts) == seen
        # class-balanced: every class holds its share, capped by the images it has
        expected = min(per_class, int(memory.budget.per_class(seen) + EPS))
        assert counts == [expected] * seen
        # it stores what it counts: one original image per unit
        assert memory.nbytes == int(round(memory.units_used)) * 2 * 2 * 3


def test_shrinking_keeps_selection_prefix():
    memory = ExemplarMemory(Budget("fixed", 20), "herding", RawCodec())
    rng = np.random.default_rng(0)
    images = np.arange(10 * 12, dtype=np.uint8).reshape(10, 2, 2, 3)
    memory.add_class(0, images, Candidates(rng.normal(size=(10, 3))), 10, rng)
    before = [e.decode().copy() for e in memory.classes[0]]
    memory.shrink(4)
    after = [e.decode() for e in memory.classes[0]]
    assert len(after) == 5 and all((a == b).all() for a, b in zip(after, before[:5], strict=False))


class CheapExemplar(PlainExemplar):
    @property
    def units(self) -> float:
        return 0.4


class CheapCodec(RawCodec):
    def encode(self, image, arg):
        return CheapExemplar(image)


def test_fractional_costs_fill_as_many_as_fit():
    memory = ExemplarMemory(Budget("growing", 3), "random", CheapCodec())
    rng = np.random.default_rng(0)
    memory.add_class(0, np.zeros((20, 2, 2, 3), np.uint8), Candidates(None), 3.0, rng)
    assert len(memory.classes[0]) == 7 and memory.units_used <= 3 + EPS


def codec_and_args(kind: str, per_class: int, rng: np.random.Generator):
    """A codec and per-candidate arguments: raw, CIM (random boxes or none, eta 4), JPEG
    (random qualities) or Mnemonics' float16 arrays (2 units each)."""
    if kind == "raw":
        return RawCodec(), lambda: None
    if kind == "cim":
        def boxes():
            return [None if rng.random() < 0.2 else random_box(16, 16, rng) for _ in range(per_class)]
        return CimCodec(4.0), boxes
    if kind == "float16":
        return TensorCodec("float16"), lambda: None
    return JpegCodec(), lambda: [int(q) for q in rng.integers(5, 96, per_class)]


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(["raw", "cim", "jpeg", "float16"]),
    mode=st.sampled_from(["fixed", "growing"]),
    units=st.integers(0, 60),
    phases=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    per_class=st.integers(1, 12),
    selection=st.sampled_from(["herding", "random"]),
)
def test_every_codec_stays_within_budget_and_stores_what_it_counts(kind, mode, units, phases, per_class,
                                                                    selection):
    """Raw, CIM-compressed, JPEG and float16 exemplars alike: the units charged never exceed the budget (nor a
    class's share), and the bytes held are exactly the units times the bytes of one image."""
    rng = np.random.default_rng(units)
    codec, args = codec_and_args(kind, per_class, rng)
    memory = ExemplarMemory(Budget(mode, units), selection, codec)

    def add(c: int, share: float) -> None:
        images = rng.integers(0, 256, (per_class, 16, 16, 3), np.uint8)
        memory.add_class(c, images, Candidates(rng.normal(size=(per_class, 4)), args()), share, rng)

    for seen in fill_phases(memory, phases, add):
        assert memory.units_used <= memory.budget.total(seen) + EPS
        share = memory.budget.per_class(seen)
        assert all(sum(e.units for e in items) <= share + EPS for items in memory.classes.values())
        assert memory.nbytes == pytest.approx(memory.units_used * 16 * 16 * 3, rel=1e-9)
        assert memory.nbytes <= memory.budget.total(seen) * 16 * 16 * 3 + 1e-6
        images, labels = memory.exemplar_arrays()
        assert len(labels) == len(memory) and (not len(memory) or images.shape[1:] == (16, 16, 3))
