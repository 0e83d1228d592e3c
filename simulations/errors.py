"""The harness's one error: an invalid simulation specification, with every problem named."""

from __future__ import annotations

from collections.abc import Iterable

from escalation import EscalationError, Problem

__all__ = ["InvalidSpecError"]


class InvalidSpecError(EscalationError, ValueError):
    """The simulation specification is not valid; nothing was simulated.

    ``problems`` holds every problem found, each naming its field (``scenarios[1].true_dlt_probs[2]``,
    ``designs[0].target``, ...).
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("an invalid specification needs at least one problem")
        super().__init__("; ".join(str(p) for p in self.problems))
