"""Simulation engines: the generic one for any design, fast ones for designs numpy can vectorize.

:func:`choose_engine` takes the first fast engine that supports the design under the conduct, else
the generic engine.
"""

from __future__ import annotations

from escalation import Design
from simulations.engines.base import Engine, TrialOutcomes, resolve_timing
from simulations.engines.blrm import BLRMEngine
from simulations.engines.boin import BOINEngine
from simulations.engines.boin12 import BOIN12Engine
from simulations.engines.crm import CRMEngine
from simulations.engines.generic import GenericEngine
from simulations.engines.three_plus_three import ThreePlusThreeEngine
from simulations.engines.tite_boin import TITEBOINEngine
from simulations.engines.tite_crm import TITECRMEngine
from simulations.patients import Conduct

__all__ = [
    "ENGINES",
    "FAST_ENGINES",
    "BLRMEngine",
    "BOIN12Engine",
    "BOINEngine",
    "CRMEngine",
    "Engine",
    "GenericEngine",
    "TITEBOINEngine",
    "TITECRMEngine",
    "ThreePlusThreeEngine",
    "TrialOutcomes",
    "choose_engine",
    "resolve_timing",
]

#: fast engines, tried in order; a design none supports runs on the generic engine
FAST_ENGINES: tuple[Engine, ...] = (
    BOINEngine(),
    CRMEngine(),
    ThreePlusThreeEngine(),
    TITEBOINEngine(),
    TITECRMEngine(),
    BLRMEngine(),
    BOIN12Engine(),
)
GENERIC_ENGINE: Engine = GenericEngine()
#: every engine by name ("auto" in a spec means: the first fast engine that fits, else generic)
ENGINES: dict[str, Engine] = {e.name: e for e in (*FAST_ENGINES, GENERIC_ENGINE)}


def choose_engine(design: Design, conduct: Conduct, name: str = "auto") -> Engine:
    """The engine for a design: ``name``, or with ``"auto"`` the fastest one that supports it."""
    if name != "auto":
        engine = ENGINES[name]
        if not engine.supports(design, conduct):
            raise ValueError(f"engine {name!r} does not support this design and conduct")
        return engine
    for engine in FAST_ENGINES:
        if engine.supports(design, conduct):
            return engine
    return GENERIC_ENGINE
