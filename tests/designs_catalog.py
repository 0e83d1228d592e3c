"""One configured instance of every design, for the checks that run over all designs.

Adding a design to ``escalation.DESIGNS`` without an entry here fails the conformance test.
"""

from __future__ import annotations

from typing import Any

from escalation import DESIGNS, Design

OPTIONS: dict[str, dict[str, Any]] = {
    "boin": {"target": 0.3, "max_patients": 36, "n_stop": 12},
}


def make_design(method: str, n_doses: int) -> Design:
    return DESIGNS[method](n_doses=n_doses, **OPTIONS[method])
