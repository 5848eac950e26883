"""Backbones and incremental classifier heads."""

from raycil.models.backbones import build_backbone
from raycil.models.network import GrowingLinear, IncrementalNet

__all__ = ["build_backbone", "GrowingLinear", "IncrementalNet"]
