"""Dose-change limits applied to the model's proposal, in a fixed order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from escalation.decision import RuleKind, RuleOutcome
from escalation.rules.context import DecisionContext

__all__ = [
    "Coherence",
    "EscalationNeedsCompleteFollowup",
    "ExcludeEliminated",
    "MaxAmountStep",
    "MaxStep",
    "NoSkipping",
    "NoSkippingDown",
]


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
class NoSkippingDown:
    """De-escalate by at most one dose level at a time (the option ``no_skipping_down``).

    R escalation's ``dont_skip_doses(when_deescalating = TRUE)``: the next dose is at least one
    below the current one. An eliminated dose one below still gives way to
    :class:`ExcludeEliminated`, which comes later.
    """

    @property
    def label(self) -> str:
        return "NoSkippingDown()"

    def apply(self, ctx: DecisionContext, index: int) -> tuple[int, RuleOutcome]:
        cur = ctx.current_index
        if cur is None or index >= cur - 1:
            return index, _outcome(self.label, False, "No de-escalation by more than one level.")
        return cur - 1, _outcome(
            self.label,
            True,
            f"De-escalation limited to one level: dose level {cur} instead of {index + 1}.",
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Coherence:
    """No escalation right after a cohort whose observed DLT rate is at least the target.

    The last cohort is the ``cohort_size`` most recently infused patients at the current dose (on
    ties in the infusion day, patients with a DLT count as the more recent: the rule does not depend
    on the order of the data, and errs on the safe side); its DLT rate counts the DLTs observed
    among them. This is dfcrm's ``restrict`` in ``crmsim`` (Cheung 2005, coherence in dose-finding).

    References
    ----------
    Cheung YK (2005). Coherence principles in dose-finding studies. Biometrika 92:863-873.
    """

    cohort_size: int

    @property
    def label(self) -> str:
        return f"Coherence(cohort_size={self.cohort_size})"

    def apply(self, ctx: DecisionContext, index: int) -> tuple[int, RuleOutcome]:
        cur = ctx.current_index
        if cur is None or index <= cur:
            return index, _outcome(self.label, False, "No escalation proposed.")
        if ctx.data.counts is not None:
            n_cur, y_cur = ctx.data.counts[cur]
            n_last = min(n_cur, self.cohort_size)
            given = ctx.data.last_cohort
            if given is None:
                # counted patients are all infused on day 0: the DLTs count as the most recent
                n_dlt = min(y_cur, n_last)
                note = (
                    " Counts give no order: the DLTs at the current dose were taken as the most "
                    "recent, the cautious reading; the patients form, or the counts form's "
                    "last_cohort, gives the actual last cohort."
                    if n_cur > self.cohort_size and 0 < y_cur < n_cur
                    else ""
                )
                return self._judge(ctx, index, cur, n_last, n_dlt, note)
            # the given last cohort first, then (cautiously) the DLTs among the others
            m = min(given[0], n_last)
            n_dlt = min(given[1], m) + min(y_cur - given[1], n_last - m)
            return self._judge(ctx, index, cur, n_last, n_dlt)
        patients, dlt = ctx.data.patients, ctx.summary.dlt
        at_current = [i for i, p in enumerate(patients) if p.dose_level == cur + 1]
        # most recent first; on the same day a DLT counts as more recent (order-free, conservative)
        at_current.sort(key=lambda i: (patients[i].infused_day, bool(dlt[i])), reverse=True)
        last = at_current[: self.cohort_size]
        return self._judge(ctx, index, cur, len(last), int(dlt[last].sum()))

    def _judge(
        self, ctx: DecisionContext, index: int, cur: int, n_last: int, n_dlt: int, note: str = ""
    ) -> tuple[int, RuleOutcome]:
        if not n_last:
            return index, _outcome(self.label, False, "No patient at the current dose yet.")
        rate = n_dlt / n_last
        if rate >= ctx.target:
            return cur, _outcome(
                self.label,
                True,
                f"The last cohort had {n_dlt} DLT{'s' if n_dlt != 1 else ''} in {n_last} "
                f"(rate {rate:.2f} >= target {ctx.target:g}): no escalation, stay at dose level "
                f"{cur + 1}.{note}",
            )
        return index, _outcome(
            self.label, False, f"The last cohort's DLT rate {rate:.2f} is below the target."
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationNeedsCompleteFollowup:
    """Escalate to an untried dose only when ``min_complete`` patients at the current dose have a
    complete outcome (a DLT or the whole window); until then the next dose is at most the highest
    dose tried.

    Time-to-event designs decide with pending patients; this rule keeps them from opening a new
    dose on partial follow-up alone.
    """

    min_complete: int = 1

    @property
    def label(self) -> str:
        return f"EscalationNeedsCompleteFollowup(min_complete={self.min_complete})"

    def apply(self, ctx: DecisionContext, index: int) -> tuple[int, RuleOutcome]:
        cur = ctx.current_index
        tried = np.flatnonzero(ctx.summary.n_treated > 0)
        highest = int(tried[-1]) if tried.size else -1
        if cur is None or index <= cur or index <= highest:
            return index, _outcome(self.label, False, "No escalation to an untried dose proposed.")
        complete = int(ctx.summary.n_complete[cur])
        if complete >= self.min_complete:
            return index, _outcome(
                self.label,
                False,
                f"{complete} patient{'s' if complete != 1 else ''} at dose level {cur + 1} with a complete outcome.",
            )
        # the highest dose allowed is the highest one tried: the current dose, or a higher one
        # the trial has de-escalated from (capping at the current dose there would let a DLT
        # elsewhere raise the next dose)
        allowed = max(cur, highest)
        then = (
            f"stay at dose level {cur + 1}"
            if allowed == cur
            else f"at most dose level {allowed + 1}, the highest dose tried"
        )
        return allowed, _outcome(
            self.label,
            True,
            f"Dose level {index + 1} is untried and only {complete} patient{'s' if complete != 1 else ''} "
            f"at dose level {cur + 1} {'has' if complete == 1 else 'have'} a complete outcome "
            f"(at least {self.min_complete} needed): {then}.",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxAmountStep:
    """Escalate to at most ``factor`` times the highest dose amount tried so far.

    The dose-escalation limit of BLRM designs, on dose amounts rather than levels: with
    ``factor=2`` the next dose is at most twice the highest dose any patient received. Before the
    first patient every dose is allowed (the starting dose is set elsewhere). ``amounts`` are the
    dose amounts by dose index, increasing.

    References
    ----------
    Neuenschwander B, Branson M, Gsponer T (2008). Stat Med 27:2420-2439, section 3.3 (maximum
    dose increment).
    """

    amounts: tuple[float, ...]
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not self.factor >= 1.0:
            raise ValueError(f"factor must be >= 1, got {self.factor}")
        if not self.amounts or any(a <= 0 for a in self.amounts):
            raise ValueError(f"amounts must be positive, got {self.amounts}")
        if any(b <= a for a, b in zip(self.amounts, self.amounts[1:], strict=False)):
            raise ValueError(f"amounts must increase with the dose level, got {self.amounts}")

    @property
    def label(self) -> str:
        return f"MaxAmountStep(factor={self.factor:g})"

    def apply(self, ctx: DecisionContext, index: int) -> tuple[int, RuleOutcome]:
        if len(self.amounts) != ctx.data.n_doses:
            raise ValueError(f"{len(self.amounts)} dose amounts for {ctx.data.n_doses} dose levels")
        tried = np.flatnonzero(ctx.summary.n_treated > 0)
        if not tried.size:
            return index, _outcome(self.label, False, "No dose has been tried yet.")
        highest = self.amounts[int(tried[-1])]
        limit = self.factor * highest * (1.0 + 1e-12)  # amounts exactly at the limit are allowed
        ceiling = max(i for i, a in enumerate(self.amounts) if a <= limit)
        if index <= ceiling:
            return index, _outcome(
                self.label,
                False,
                f"Dose level {index + 1} is within {self.factor:g} times the highest dose tried "
                f"({highest:g}).",
            )
        return ceiling, _outcome(
            self.label,
            True,
            f"Dose level {index + 1} ({self.amounts[index]:g}) is more than {self.factor:g} times "
            f"the highest dose tried ({highest:g}): limited to dose level {ceiling + 1}.",
        )
