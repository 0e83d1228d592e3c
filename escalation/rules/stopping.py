"""Stopping rules, composable with ``&`` and ``|``.

Every rule keeps its label, so a decision can say which rule stopped the trial. A trial
document writes the same rules as an expression (:mod:`escalation.rules.grammar`).

Two kinds of leaves differ from the others:

* a *demand* (:class:`DemandNAtDose`, R escalation's ``demand_n_at_dose``) stops nothing itself:
  wherever it sits in the expression, it holds the trial open until its dose has ``n`` patients.
  Inside ``&`` and ``|`` it is neutral (left out of the logic); :func:`decide_stop`, which the
  decision pipeline calls on the whole expression, then holds off a stop while a demand is unmet;
* a *safety* stop (:class:`StopWhenTooToxic`, :class:`StopWhenDeescalationImpossible`) ends the
  trial with no recommended dose, and no demand holds it off (R: a parent that recommends no dose
  is not overridden). Neither does a demand hold the trial past the design's ``max_patients``
  (its sample size, :attr:`DecisionContext.max_patients`).

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

References
----------
Brock K (2019). trialr and escalation: R packages for dose-finding trials; escalation's
``stop_at_n``, ``stop_when_n_at_dose``, ``stop_when_too_toxic``, ``demand_n_at_dose``.
Bove DS et al. (crmPack): stopping rules combined with ``&`` and ``|``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from escalation.decision import Action, RuleKind, RuleOutcome
from escalation.rules.context import DecisionContext

__all__ = [
    "AllOf",
    "AnyOf",
    "DemandNAtDose",
    "StopAtN",
    "StopWhenDeescalationImpossible",
    "StopWhenModelStops",
    "StopWhenNAtDose",
    "StopWhenTooToxic",
    "StoppingRule",
    "decide_stop",
    "leaves",
]

#: which dose a count of patients is taken at: the recommended one, any one, the current one
#: (the last cohort's), or a level (from 1)
DoseChoice = Literal["recommended", "any", "current"] | int


class StoppingRule(ABC):
    """A rule that may end the trial. Combine with ``&`` (all must hold) and ``|`` (any)."""

    __slots__ = ()

    @property
    @abstractmethod
    def label(self) -> str:
        """A readable name with the rule's settings."""

    @abstractmethod
    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        """Whether the rule stops the trial, and the outcome of every simple rule inside it
        (demands held aside: see :func:`decide_stop` for the verdict of a whole expression)."""

    def __and__(self, other: StoppingRule) -> StoppingRule:
        rules = _unique((*_parts(self, AllOf), *_parts(other, AllOf)))
        return rules[0] if len(rules) == 1 else AllOf(rules=rules)

    def __or__(self, other: StoppingRule) -> StoppingRule:
        rules = _unique((*_parts(self, AnyOf), *_parts(other, AnyOf)))
        return rules[0] if len(rules) == 1 else AnyOf(rules=rules)

    def __bool__(self) -> bool:
        raise TypeError("combine stopping rules with & and |, not with 'and'/'or'")


def _parts(rule: StoppingRule, kind: type[AllOf] | type[AnyOf]) -> tuple[StoppingRule, ...]:
    return rule.rules if isinstance(rule, kind) and rule.name is None else (rule,)


def _unique(rules: tuple[StoppingRule, ...]) -> tuple[StoppingRule, ...]:
    """``rules`` without repeats (A | A is A): equal rules compare equal field by field."""
    out: list[StoppingRule] = []
    for r in rules:
        if r not in out:
            out.append(r)
    return tuple(out)


def _outcome(label: str, triggered: bool, detail: str) -> tuple[bool, tuple[RuleOutcome, ...]]:
    return triggered, (
        RuleOutcome(label=label, kind=RuleKind.STOPPING, triggered=triggered, detail=detail),
    )


def leaves(rule: StoppingRule) -> Iterator[StoppingRule]:
    """The simple rules of an expression, left to right (the order of its outcomes)."""
    if isinstance(rule, AllOf | AnyOf):
        for r in rule.rules:
            yield from leaves(r)
    else:
        yield rule


def _logic(
    rules: tuple[StoppingRule, ...], ctx: DecisionContext
) -> tuple[list[bool], tuple[RuleOutcome, ...]]:
    """The verdicts of the rules that are not demands, and every outcome in order."""
    verdicts: list[bool] = []
    outcomes: list[RuleOutcome] = []
    for r in rules:
        verdict, outs = r.evaluate(ctx)
        if not isinstance(r, DemandNAtDose):
            verdicts.append(verdict)
        outcomes += outs
    return verdicts, tuple(outcomes)


@dataclass(frozen=True, slots=True)
class AllOf(StoppingRule):
    """Stops when every rule inside stops (demands aside; with only demands inside, never)."""

    rules: tuple[StoppingRule, ...]
    name: str | None = None

    @property
    def label(self) -> str:
        return _with_label(self.name, " & ".join(_wrap(r) for r in self.rules))

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        verdicts, outcomes = _logic(self.rules, ctx)
        return bool(verdicts) and all(verdicts), outcomes


@dataclass(frozen=True, slots=True)
class AnyOf(StoppingRule):
    """Stops when any rule inside stops (demands aside)."""

    rules: tuple[StoppingRule, ...]
    name: str | None = None

    @property
    def label(self) -> str:
        return _with_label(self.name, " | ".join(_wrap(r) for r in self.rules))

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        verdicts, outcomes = _logic(self.rules, ctx)
        return any(verdicts), outcomes


def _wrap(rule: StoppingRule) -> str:
    return (
        f"({rule.label})" if isinstance(rule, AllOf | AnyOf) and rule.name is None else rule.label
    )


def _with_label(label: str | None, default: str) -> str:
    return default if label is None else f"{label}: {default}"


@dataclass(frozen=True, slots=True)
class StopAtN(StoppingRule):
    """Stop when ``n`` patients have been treated (pending and withdrawn patients count).

    With ``cohort`` (e.g. ``"escalation"``, for designs with backfill: BF-BOIN's maximum sample
    size counts the escalation cohorts) only that cohort's patients count. R escalation's
    ``stop_at_n``.
    """

    n: int
    cohort: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        default = (
            f"StopAtN({self.n})" if self.cohort is None else f"StopAtN({self.n}, {self.cohort})"
        )
        return _with_label(self.name, default)

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


def _n_at(ctx: DecisionContext, dose: DoseChoice, n: int) -> tuple[bool | None, str]:
    """Whether ``n`` patients have been treated at ``dose`` (None: no recommended dose), and how
    many there are, as a phrase."""
    treated = ctx.summary.n_treated
    if dose == "any":
        most = int(treated.max()) if treated.size else 0
        where = int(np.argmax(treated)) + 1 if treated.size else 1
        return most >= n, f"{most} patients treated at dose level {where}, the most at any dose"
    if dose == "current":
        cur = ctx.current_index
        if cur is None:
            return None, "No patient has been treated yet"
        return int(treated[cur]) >= n, (
            f"{int(treated[cur])} patients treated at the current dose level {cur + 1}"
        )
    if dose == "recommended":
        nxt = ctx.next_index
        if nxt is None:
            return None, "No recommended dose to count patients at"
        return int(treated[nxt]) >= n, (
            f"{int(treated[nxt])} patients treated at dose level {nxt + 1}, the recommended dose"
        )
    assert isinstance(dose, int)
    k = int(treated[dose - 1])
    return k >= n, f"{k} patients treated at dose level {dose}"


@dataclass(frozen=True, slots=True)
class StopWhenNAtDose(StoppingRule):
    """Stop when ``n`` patients have been treated at ``dose``: the recommended dose (default),
    any dose, the current dose (BOIN12's ``n_stop``, whatever the next decision), or a given
    level (from 1). R escalation's ``stop_when_n_at_dose``.

    With ``when_staying`` (BOIN's ``n.earlystop``) the rule applies only when the recommended dose
    is the current one, i.e. when the decision would be to stay.
    """

    n: int
    when_staying: bool = True
    dose: DoseChoice = "recommended"
    name: str | None = None

    @property
    def label(self) -> str:
        where = "" if self.dose == "recommended" else f", dose={self.dose}"
        return _with_label(
            self.name, f"StopWhenNAtDose({self.n}, when_staying={self.when_staying}{where})"
        )

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        if self.when_staying and (ctx.next_index is None or ctx.next_index != ctx.current_index):
            return _outcome(self.label, False, "The decision is not to stay at the current dose.")
        hit, phrase = _n_at(ctx, self.dose, self.n)
        if hit is None:
            return _outcome(self.label, False, f"{phrase}.")
        return _outcome(
            self.label, hit, phrase + (f" (>= {self.n})." if hit else f" (fewer than {self.n}).")
        )


@dataclass(frozen=True, slots=True)
class DemandNAtDose(StoppingRule):
    """Hold the trial open until ``n`` patients have been treated at ``dose`` (the recommended
    dose, any dose, or a level from 1). R escalation's ``demand_n_at_dose``.

    A demand stops nothing itself; :func:`decide_stop` holds off the expression's other stops
    while it is unmet, except a safety stop (no dose is recommended) and the design's sample size.
    Its outcome is ``triggered`` when it held the trial open.
    """

    n: int
    dose: DoseChoice = "recommended"
    name: str | None = None

    @property
    def label(self) -> str:
        return _with_label(self.name, f"DemandNAtDose({self.n}, dose={self.dose})")

    def met(self, ctx: DecisionContext) -> tuple[bool, str]:
        """Whether the demand is met (no recommended dose: nothing to demand), and why."""
        hit, phrase = _n_at(ctx, self.dose, self.n)
        if hit is None:
            return True, f"{phrase}: nothing to demand."
        if hit:
            return True, f"{phrase} (>= {self.n}): the demand is met."
        return False, f"{phrase} (fewer than {self.n}): the trial may not stop for other reasons."

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        met, why = self.met(ctx)
        return met, (
            RuleOutcome(label=self.label, kind=RuleKind.STOPPING, triggered=False, detail=why),
        )


@dataclass(frozen=True, slots=True)
class StopWhenTooToxic(StoppingRule):
    """Stop when Pr(p_level > threshold | data) exceeds ``prob`` with at least ``min_n``
    evaluable patients at that level; the trial then recommends no dose.

    The posterior is the design's own (BOIN: Beta(1, 1); CRM: the model's, exact);
    ``threshold=None`` is the design's target. ``strict``: the probability must exceed ``prob``
    (the options ``safety_stop_prob`` and BOIN's extra-safe rule); otherwise reach it (R
    escalation's ``stop_when_too_toxic``: ``>= confidence``). With ``eliminate`` every dose where
    the probability reaches ``prob`` (with ``min_n`` patients there) is also inadmissible, with
    every higher dose (R marks them in ``dose_admissible``). With ``level=1`` and
    ``prob = cutoff - offset`` this is BOIN's extra-safe rule.
    """

    level: int = 1
    prob: float = 0.95
    min_n: int = 3
    threshold: float | None = None
    strict: bool = True
    eliminate: bool = False
    name: str | None = None

    @property
    def label(self) -> str:
        extra = "" if self.threshold is None else f", threshold={self.threshold:g}"
        if not self.strict:
            extra += ", strict=False"
        if self.eliminate:
            extra += ", eliminate=True"
        return _with_label(
            self.name,
            f"StopWhenTooToxic(level={self.level}, prob={self.prob:g}, min_n={self.min_n}{extra})",
        )

    def cutoff_of(self, ctx: DecisionContext) -> float:
        """The DLT rate the rule is about: ``threshold``, or the design's target."""
        return ctx.target if self.threshold is None else self.threshold

    def holds(self, p: float) -> bool:
        """Whether a posterior probability ``p`` is too high."""
        return p > self.prob if self.strict else p >= self.prob

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        i = self.level - 1
        t = self.cutoff_of(ctx)
        n = int(ctx.n_for_safety[i])
        probs = ctx.prob_exceeds.get(t)
        p = float((ctx.prob_overdose if probs is None else probs)[i])
        if n < self.min_n or p != p:
            return _outcome(
                self.label,
                False,
                f"Fewer than {max(self.min_n, 1)} evaluable patients at dose level {self.level}.",
            )
        hit = self.holds(p)
        rel = (">" if self.strict else ">=") if hit else ("<=" if self.strict else "<")
        return _outcome(
            self.label,
            hit,
            f"Pr(DLT rate at dose level {self.level} > {t:g}) = {p:.3f} {rel} {self.prob:g}.",
        )


@dataclass(frozen=True, slots=True)
class StopWhenDeescalationImpossible(StoppingRule):
    """Stop, with no recommended dose, when the model asks to de-escalate from the lowest dose.

    R escalation's ``get_boin(..., stop_when_deescalation_impossible = TRUE)``.
    """

    name: str | None = None

    @property
    def label(self) -> str:
        return _with_label(self.name, "StopWhenDeescalationImpossible()")

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        if ctx.current_index == 0 and ctx.model_direction is Action.DEESCALATE:
            return _outcome(
                self.label, True, "The model asks to de-escalate from the lowest dose level."
            )
        return _outcome(self.label, False, "No de-escalation from the lowest dose level asked.")


#: stops that recommend no dose: no demand holds them off
SAFETY_STOPS: tuple[type[StoppingRule], ...] = (StopWhenTooToxic, StopWhenDeescalationImpossible)


def decide_stop(
    rule: StoppingRule, ctx: DecisionContext
) -> tuple[bool, tuple[RuleOutcome, ...], bool]:
    """The verdict of a whole stopping expression, its leaves' outcomes, and whether the stop is a
    safety stop (no dose recommended).

    The expression's logic decides (demands neutral); an unmet demand then holds the trial open
    unless a safety stop triggered or the trial has reached the design's ``max_patients``. A
    demand's outcome is ``triggered`` when it held the trial open.
    """
    verdict, outcomes = rule.evaluate(ctx)
    parts = list(leaves(rule))
    safety = any(
        isinstance(leaf, SAFETY_STOPS) and out.triggered
        for leaf, out in zip(parts, outcomes, strict=True)
    )
    at_cap = ctx.max_patients is not None and ctx.data.n_patients >= ctx.max_patients
    held = False
    fixed: list[RuleOutcome] = []
    for leaf, out in zip(parts, outcomes, strict=True):
        if isinstance(leaf, DemandNAtDose) and verdict and not safety and not at_cap:
            met, _ = leaf.met(ctx)
            if not met:
                held = True
                out = replace(out, triggered=True)
        fixed.append(out)
    stop = verdict and not held
    return stop, tuple(fixed), stop and safety


@dataclass(frozen=True, slots=True)
class StopWhenModelStops(StoppingRule):
    """Stop when the model finds no dose it may give (BOIN12: every dose it may move to is
    inadmissible); the model's sentence is the reason."""

    @property
    def label(self) -> str:
        return "StopWhenModelStops()"

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        if ctx.model_stop is None:
            return _outcome(self.label, False, "The model has a dose to give.")
        return _outcome(self.label, True, ctx.model_stop)


# the model finding no admissible dose recommends none either: no demand holds it off
SAFETY_STOPS += (StopWhenModelStops,)
