"""CIL methods: one file each, registered by the name used in ``method.name``."""

from raycil.methods.base import Method, PhaseContext
from raycil.methods.der import DER
from raycil.methods.finetune import FineTune
from raycil.methods.foster import FOSTER
from raycil.methods.icarl import ICaRL
from raycil.methods.joint import Joint
from raycil.methods.lucir import LUCIR
from raycil.methods.lwf import LwF
from raycil.methods.ssil import SSIL
from raycil.methods.wa import WA

METHODS: dict[str, type[Method]] = {
    "finetune": FineTune,
    "icarl": ICaRL,
    "lwf": LwF,
    "ssil": SSIL,
    "joint": Joint,
    "lucir": LUCIR,
    "wa": WA,
    "der": DER,
    "foster": FOSTER,
}

__all__ = ["METHODS", "Method", "PhaseContext"]
