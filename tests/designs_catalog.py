"""One configured instance of every design, for the checks that run over all designs.

Adding a design to ``escalation.DESIGNS`` without an entry here fails the conformance test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from escalation import DESIGNS, Design


def skeleton(n_doses: int, target: float = 0.3) -> tuple[float, ...]:
    """An increasing skeleton with the prior MTD in the middle of the ladder."""
    mid = (n_doses - 1) // 2
    return tuple(round(min(0.95, max(0.02, target + 0.1 * (i - mid))), 6) for i in range(n_doses))


OPTIONS: dict[str, Callable[[int], dict[str, Any]]] = {
    "boin": lambda k: {"target": 0.3, "max_patients": 36, "n_stop": 12},
    "tite-boin": lambda k: {"target": 0.3, "max_patients": 36, "n_stop": 12},
    "crm": lambda k: {"target": 0.3, "skeleton": skeleton(k), "max_patients": 36, "n_stop": 12},
    "tite-crm": lambda k: {"target": 0.3, "skeleton": skeleton(k), "max_patients": 36},
    "3+3": lambda k: {"allow_deescalation": True},
    "tite-boin12": lambda k: {
        "target": 0.35,
        "efficacy_target": 0.25,
        "utility": (100, 40, 60, 0),
        "max_patients": 36,
    },
    "boin12": lambda k: {
        "target": 0.35,
        "efficacy_target": 0.25,
        "utility": (100, 40, 60, 0),
        "max_patients": 36,
    },
    "blrm": lambda k: {
        "target": 0.25,
        "dose_amounts": tuple(0.25e6 * 2.0**i for i in range(k)),
        "max_patients": 36,
    },
}


#: the designs that decide on DLTs alone: the checks whose data carry no responses (the counts
#: form, DLT-only patients) run over these; BOIN12 has its own checks with responses
#: (tests/test_boin12.py)
DLT_ONLY_METHODS = sorted(m for m, cls in DESIGNS.items() if not cls.uses_efficacy)


def make_design(method: str, n_doses: int) -> Design:
    return DESIGNS[method](n_doses=n_doses, **OPTIONS[method](n_doses))
