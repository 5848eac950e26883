"""CIL methods: one file each (hooks, settings, needs), registered here by ``Method.name``."""

from raycil.methods.base import Method
from raycil.methods.der import DER
from raycil.methods.finetune import FineTune
from raycil.methods.foster import FOSTER
from raycil.methods.icarl import ICaRL
from raycil.methods.joint import Joint
from raycil.methods.lucir import LUCIR
from raycil.methods.lwf import LwF
from raycil.methods.ssil import SSIL
from raycil.methods.wa import WA

METHODS: dict[str, type[Method]] = {m.name: m for m in (
    FineTune,
    ICaRL,
    LwF,
    SSIL,
    Joint,
    LUCIR,
    WA,
    DER,
    FOSTER,
)}

__all__ = ["METHODS", "Method"]
