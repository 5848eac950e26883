"""The MRDC codec: exemplars stored as JPEG streams (Wang et al., ICLR 2022, §4.1), encoded and
decoded with OpenCV (libjpeg: baseline, 4:2:0 chroma subsampling) with optimised Huffman tables
(lossless: the same decoded pixels in fewer bytes; a 32-px image's stream is ~330 bytes, 0.11
memory units, shorter than with libjpeg's standard tables). An exemplar is charged its whole
stream, headers and tables included, over the bytes of the original image, as the authors measured
their compressed data sets (file sizes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from raycil.memory.codec import units_of


def jpeg_encode(image: np.ndarray, quality: int) -> np.ndarray:
    """An RGB uint8 image as a JPEG stream (uint8 bytes) at ``quality`` (1..100)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_OPTIMIZE, 1]
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    return data.reshape(-1)


def jpeg_decode(data: np.ndarray) -> np.ndarray:
    """A JPEG stream back to an RGB uint8 image."""
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """The image as the memory would return it at ``quality``."""
    return jpeg_decode(jpeg_encode(image, quality))


@dataclass
class JpegExemplar:
    """An image stored as a JPEG stream; ``shape`` and ``quality`` are kept for reading back and
    for the statistics (the stream's own header holds both)."""

    data: np.ndarray
    shape: tuple[int, ...]
    quality: int

    @classmethod
    def encode(cls, image: np.ndarray, quality: int) -> JpegExemplar:
        return cls(jpeg_encode(image, quality), tuple(image.shape), int(quality))

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    @property
    def units(self) -> float:
        return units_of(self.nbytes, self.shape)

    def decode(self) -> np.ndarray:
        return jpeg_decode(self.data)


class JpegCodec:
    """Stores each selected candidate as JPEG at the quality its candidates record gives."""

    def encode(self, image: np.ndarray, quality: int) -> JpegExemplar:
        return JpegExemplar.encode(image, quality)

    def stats(self, stored: Sequence[JpegExemplar]) -> dict[str, float]:
        """Mean units per stored exemplar (1 = uncompressed) and mean JPEG quality."""
        if not stored:
            return {}
        return {"units_per_exemplar": float(np.mean([e.units for e in stored])),
                "jpeg_quality_stored": float(np.mean([e.quality for e in stored]))}
