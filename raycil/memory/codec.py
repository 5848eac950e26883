"""The memory's side of the plug-in seam: what is stored for one exemplar, and the codec that
makes it.

A codec turns a selected candidate image into a stored record (an :class:`Exemplar`); the record
says what it costs in memory units (one unit = the bytes of one original image, docs/concepts.md) and
decodes back to an image. The memory is built with one codec, chosen from the config: raw images
(:class:`RawCodec`, the default) or a plug-in's (CIM's compressed exemplars, MRDC's JPEG bytes).
The learner describes each new class's candidates with a typed :class:`Candidates` record: the
embeddings selection ranks and, per candidate, the argument the codec needs (a box, a quality).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

A = TypeVar("A")
A_contra = TypeVar("A_contra", contravariant=True)


class Exemplar(Protocol):
    """A stored exemplar: ``units`` memory units for the ``nbytes`` it holds, decodable to an image."""

    @property
    def units(self) -> float: ...

    @property
    def nbytes(self) -> int: ...

    def decode(self) -> np.ndarray: ...


def units_of(nbytes: int, shape: Sequence[int]) -> float:
    """Memory units of a record holding ``nbytes`` for an original image of ``shape`` (H, W, C):
    its bytes over the original's, so what is stored is exactly what is charged."""
    return nbytes / float(np.prod(shape))


@dataclass
class PlainExemplar:
    """An image array kept as it is: an original (uint8) costs one unit, a float array of the
    same shape its bytes over the original's."""

    image: np.ndarray

    @property
    def units(self) -> float:
        return units_of(self.image.nbytes, self.image.shape)

    @property
    def nbytes(self) -> int:
        return int(self.image.nbytes)

    def decode(self) -> np.ndarray:
        return self.image


@dataclass(frozen=True)
class Candidates(Generic[A]):
    """What the memory selects from for one new class (its training images, in dataset order):
    ``features`` for herding, embeddings of the images as they would be stored (``None`` for
    random selection), and ``codec_args[i]``, what the codec needs to store candidate ``i``
    (``None`` for the raw codec)."""

    features: np.ndarray | None
    codec_args: Sequence[A] | None = None

    def arg(self, index: int) -> A | None:
        return None if self.codec_args is None else self.codec_args[index]


class ExemplarCodec(Protocol[A_contra]):
    """Stores a candidate image (with its codec argument) as an :class:`Exemplar`, and sums up
    what the memory holds for the per-phase metrics."""

    def encode(self, image: np.ndarray, arg: A_contra) -> Exemplar: ...

    def stats(self, stored: Sequence[Exemplar]) -> dict[str, float]: ...


class RawCodec:
    """The default: every exemplar is the original image (one unit)."""

    def encode(self, image: np.ndarray, arg: Any) -> PlainExemplar:
        return PlainExemplar(np.ascontiguousarray(image))

    def stats(self, stored: Sequence[Exemplar]) -> dict[str, float]:
        return {}
