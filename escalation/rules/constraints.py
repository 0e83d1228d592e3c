"""Dose-change limits applied to the model's proposal, in a fixed order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from escalation.decision import RuleKind, RuleOutcome
from escalation.rules.context import DecisionContext

__all__ = ["ExcludeEliminated", "MaxStep", "NoSkipping"]


def _outcome(label: str, triggered: bool, detail: str) -> RuleOutcome:
    return RuleOutcome(label=label, kind=RuleKind.CONSTRAINT, triggered=triggered, detail=detail)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoSkipping:
    """Never escalate past an untried dose: the next dose is at most one above the highest tried.

    Before any patient the starting dose is allowed.
    """

    @property
    def label(self) -> str:
        return "NoSkipping()"

    def apply(self, ctx: DecisionContext, index: int) -> tuple[int, RuleOutcome]:
        tried = np.flatnonzero(ctx.summary.n_treated > 0)
        ceiling = max(int(tried[-1]) + 1 if tried.size else 0, ctx.start_index)
        if index <= ceiling:
            return index, _outcome(
                self.label, False, f"Dose level {index + 1} skips no untried dose."
            )
        return ceiling, _outcome(
            self.label,
            True,
            f"Dose level {index + 1} would skip untried doses: limited to level {ceiling + 1}.",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxStep:
    """Escalate by at most ``levels`` dose levels at a time."""

    levels: int = 1

    @property
    def label(self) -> str:
        return f"MaxStep({self.levels})"

    def apply(self, ctx: DecisionContext, index: int) -> tuple[int, RuleOutcome]:
        cur = ctx.current_index
        if cur is None or index - cur <= self.levels:
            return index, _outcome(self.label, False, "Within the maximum escalation step.")
        return cur + self.levels, _outcome(
            self.label,
            True,
            f"Escalation limited to {self.levels} level{'s' if self.levels > 1 else ''}: "
            f"dose level {cur + self.levels + 1} instead of {index + 1}.",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExcludeEliminated:
    """Never recommend an eliminated dose: take the highest non-eliminated dose below it."""

    @property
    def label(self) -> str:
        return "ExcludeEliminated()"

    def apply(self, ctx: DecisionContext, index: int) -> tuple[int, RuleOutcome]:
        if not ctx.eliminated[index]:
            return index, _outcome(self.label, False, f"Dose level {index + 1} is not eliminated.")
        allowed = np.flatnonzero(~ctx.eliminated[:index])
        if not allowed.size:  # the pipeline stops before this: every dose is eliminated
            return index, _outcome(self.label, True, "Every dose is eliminated.")
        lower = int(allowed[-1])
        return lower, _outcome(
            self.label,
            True,
            f"Dose level {index + 1} is eliminated: dose level {lower + 1} instead.",
        )
