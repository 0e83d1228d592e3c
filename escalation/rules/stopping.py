"""Stopping rules, composable with ``&`` and ``|``.

Every rule keeps its label, so a decision can say which rule stopped the trial.

Examples
--------
>>> from escalation.rules.stopping import StopAtN, StopWhenNAtDose, StopWhenTooToxic
>>> rule = StopAtN(30) | StopWhenNAtDose(12) | StopWhenTooToxic(level=1, prob=0.95)
>>> rule.label
'StopAtN(30) | StopWhenNAtDose(12, when_staying=True) | StopWhenTooToxic(level=1, prob=0.95, min_n=3)'
>>> bool(rule)
Traceback (most recent call last):
...
TypeError: combine stopping rules with & and |, not with 'and'/'or'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from escalation.decision import RuleKind, RuleOutcome
from escalation.rules.context import DecisionContext

__all__ = [
    "AllOf",
    "AnyOf",
    "StopAtN",
    "StopWhenNAtDose",
    "StopWhenTooToxic",
    "StoppingRule",
]


class StoppingRule(ABC):
    """A rule that may end the trial. Combine with ``&`` (all must hold) and ``|`` (any)."""

    __slots__ = ()

    @property
    @abstractmethod
    def label(self) -> str:
        """A readable name with the rule's settings."""

    @abstractmethod
    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        """Whether the rule stops the trial, and the outcome of every simple rule inside it."""

    def __and__(self, other: StoppingRule) -> StoppingRule:
        return AllOf(rules=(*_parts(self, AllOf), *_parts(other, AllOf)))

    def __or__(self, other: StoppingRule) -> StoppingRule:
        return AnyOf(rules=(*_parts(self, AnyOf), *_parts(other, AnyOf)))

    def __bool__(self) -> bool:
        raise TypeError("combine stopping rules with & and |, not with 'and'/'or'")


def _parts(rule: StoppingRule, kind: type[AllOf] | type[AnyOf]) -> tuple[StoppingRule, ...]:
    return rule.rules if isinstance(rule, kind) else (rule,)


def _outcome(label: str, triggered: bool, detail: str) -> tuple[bool, tuple[RuleOutcome, ...]]:
    return triggered, (
        RuleOutcome(label=label, kind=RuleKind.STOPPING, triggered=triggered, detail=detail),
    )


@dataclass(frozen=True, slots=True)
class AllOf(StoppingRule):
    """Stops when every rule inside stops."""

    rules: tuple[StoppingRule, ...]

    @property
    def label(self) -> str:
        return " & ".join(_wrap(r) for r in self.rules)

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        verdicts = [r.evaluate(ctx) for r in self.rules]
        return all(v for v, _ in verdicts), tuple(o for _, outs in verdicts for o in outs)


@dataclass(frozen=True, slots=True)
class AnyOf(StoppingRule):
    """Stops when any rule inside stops."""

    rules: tuple[StoppingRule, ...]

    @property
    def label(self) -> str:
        return " | ".join(_wrap(r) for r in self.rules)

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        verdicts = [r.evaluate(ctx) for r in self.rules]
        return any(v for v, _ in verdicts), tuple(o for _, outs in verdicts for o in outs)


def _wrap(rule: StoppingRule) -> str:
    return f"({rule.label})" if isinstance(rule, AllOf | AnyOf) else rule.label


@dataclass(frozen=True, slots=True)
class StopAtN(StoppingRule):
    """Stop when ``n`` patients have been treated (pending and withdrawn patients count).

    With ``cohort`` (e.g. ``"escalation"``, for designs with backfill: BF-BOIN's maximum sample
    size counts the escalation cohorts) only that cohort's patients count.
    """

    n: int
    cohort: str | None = None

    @property
    def label(self) -> str:
        return f"StopAtN({self.n})" if self.cohort is None else f"StopAtN({self.n}, {self.cohort})"

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        if self.cohort is None:
            treated, who = ctx.data.n_patients, "patients"
        else:
            treated = ctx.data.n_by_cohort()[self.cohort]
            who = f"{self.cohort} patients"
        hit = treated >= self.n
        verb = "reached" if hit else "not reached"
        return _outcome(
            self.label, hit, f"{treated} of at most {self.n} {who} treated: maximum {verb}."
        )


@dataclass(frozen=True, slots=True)
class StopWhenNAtDose(StoppingRule):
    """Stop when ``n`` patients have been treated at the recommended dose.

    With ``when_staying`` (BOIN's ``n.earlystop``) the rule applies only when the recommended dose
    is the current one, i.e. when the decision would be to stay.
    """

    n: int
    when_staying: bool = True

    @property
    def label(self) -> str:
        return f"StopWhenNAtDose({self.n}, when_staying={self.when_staying})"

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        nxt = ctx.next_index
        if nxt is None:
            return _outcome(self.label, False, "No recommended dose to count patients at.")
        treated = int(ctx.summary.n_treated[nxt])
        if self.when_staying and nxt != ctx.current_index:
            return _outcome(self.label, False, "The decision is not to stay at the current dose.")
        hit = treated >= self.n
        return _outcome(
            self.label,
            hit,
            f"{treated} patients treated at dose level {nxt + 1}"
            + (f" (>= {self.n})." if hit else f" (fewer than {self.n})."),
        )


@dataclass(frozen=True, slots=True)
class StopWhenTooToxic(StoppingRule):
    """Stop when Pr(p_level > target | data) > ``prob`` with at least ``min_n`` patients there.

    The posterior is the design's own (BOIN: Beta(1, 1); CRM: the model's). With ``level=1`` and
    ``prob = cutoff - offset`` this is BOIN's extra-safe rule.
    """

    level: int = 1
    prob: float = 0.95
    min_n: int = 3

    @property
    def label(self) -> str:
        return f"StopWhenTooToxic(level={self.level}, prob={self.prob:g}, min_n={self.min_n})"

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        i = self.level - 1
        n = int(ctx.n_for_safety[i])
        p = float(ctx.prob_overdose[i])
        if n < self.min_n or p != p:
            return _outcome(
                self.label,
                False,
                f"Fewer than {self.min_n} evaluable patients at dose level {self.level}.",
            )
        hit = p > self.prob
        rel = ">" if hit else "<="
        return _outcome(
            self.label,
            hit,
            f"Pr(DLT rate at dose level {self.level} > {ctx.target:g}) = {p:.3f} {rel} {self.prob:g}.",
        )
