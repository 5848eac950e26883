"""CIL methods: one file each, registered by the name used in ``method.name``."""

from raycil.methods.base import Method, PhaseContext
from raycil.methods.finetune import FineTune
from raycil.methods.icarl import ICaRL
from raycil.methods.joint import Joint
from raycil.methods.lwf import LwF
from raycil.methods.ssil import SSIL

METHODS: dict[str, type[Method]] = {
    "finetune": FineTune,
    "icarl": ICaRL,
    "lwf": LwF,
    "ssil": SSIL,
    "joint": Joint,
}

__all__ = ["METHODS", "Method", "PhaseContext"]
