"""Waiting rules: when pending patients make a decision premature, say until when.

Each rule returns its outcome and the study day its wait ends (None when there is no need to
wait). A waiting rule that concerns the current dose yields when that dose is eliminated: safety
elimination takes precedence, and the next cohort goes to a lower dose at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from escalation.data import Patient, PatientState
from escalation.decision import Action, RuleKind, RuleOutcome
from escalation.rules.context import DecisionContext

__all__ = [
    "Stagger",
    "SuspendForOutcomes",
    "SuspendWhenPending",
    "WaitForOutcomes",
    "WaitForPending",
]


def _outcome(label: str, triggered: bool, detail: str) -> RuleOutcome:
    return RuleOutcome(label=label, kind=RuleKind.WAITING, triggered=triggered, detail=detail)


def _pending_at(ctx: DecisionContext, index: int) -> list[Patient]:
    return [
        p
        for p, state in zip(ctx.data.patients, ctx.summary.state, strict=True)
        if state is PatientState.PENDING and p.dose_level == index + 1
    ]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitForPending:
    """Wait while any patient at the current dose is inside the DLT window (non-TITE designs).

    The wait ends, at the latest, when the last of those windows closes. Backfill patients do not
    hold the decision (BF-BOIN decides once the escalation cohort is complete; a backfill patient
    counts from the day the outcome is known).
    """

    @property
    def label(self) -> str:
        return "WaitForPending()"

    def evaluate(self, ctx: DecisionContext) -> tuple[RuleOutcome, int | None]:
        cur = ctx.current_index
        pending = [] if cur is None else _pending_at(ctx, cur)
        pending = [p for p in pending if p.cohort != "backfill"]
        if not pending or cur is None:
            return _outcome(
                self.label, False, "No patient at the current dose is still inside the DLT window."
            ), None
        if ctx.eliminated[cur]:
            return _outcome(
                self.label,
                False,
                "The current dose is eliminated: no need to wait for its patients.",
            ), None
        until = max(ctx.data.window_closes_day(p) for p in pending)
        ids = ", ".join(sorted(p.patient_id for p in pending))
        detail = (
            f"{_plural(len(pending), 'patient')} at dose level {cur + 1} still inside the "
            f"{ctx.data.dlt_window_days}-day DLT window ({ids})."
        )
        return _outcome(self.label, True, detail), until


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitForOutcomes:
    """Wait while any patient at the current dose has a DLT outcome or a response still unknown
    (BOIN12 on complete data). Withdrawn patients are not waited for.

    The wait ends, at the latest, when the last of those DLT and efficacy windows closes; a
    response still unrecorded after its efficacy window is overdue, and the wait names it.
    """

    @property
    def label(self) -> str:
        return "WaitForOutcomes()"

    def evaluate(self, ctx: DecisionContext) -> tuple[RuleOutcome, int | None]:
        cur = ctx.current_index
        if cur is None:
            return _outcome(self.label, False, "No patient has been treated yet."), None
        e = ctx.data.efficacy_summary()
        if ctx.data.counts is not None or not e.n_waiting[cur]:
            return _outcome(
                self.label, False, "Every patient at the current dose has both outcomes known."
            ), None
        if ctx.eliminated[cur]:
            return _outcome(
                self.label,
                False,
                "The current dose is eliminated: no need to wait for its patients.",
            ), None
        waiting = [
            (p, bool(tk), bool(ek))
            for p, tk, ek, w in zip(
                ctx.data.patients, e.tox_known, e.eff_known, e.withdrawn, strict=True
            )
            if p.dose_level == cur + 1 and not (tk and ek) and not w
        ]
        data = ctx.data
        until = max(
            max(
                data.window_closes_day(p) if not tk else data.as_of_day,
                data.efficacy_closes_day(p) if not ek else data.as_of_day,
            )
            for p, tk, ek in waiting
        )
        overdue = sorted(
            p.patient_id
            for p, _, ek in waiting
            if not ek and data.efficacy_closes_day(p) <= data.as_of_day
        )
        ids = ", ".join(sorted(p.patient_id for p, _, _ in waiting))
        detail = (
            f"{_plural(len(waiting), 'patient')} at dose level {cur + 1} with an outcome still "
            f"unknown ({ids})."
        )
        if overdue:
            detail += (
                f" The response of {', '.join(overdue)} is past the {data.efficacy_window_days}-day "
                "efficacy window: record it."
            )
        # an overdue response: look again the next day
        return _outcome(self.label, True, detail), max(until, data.as_of_day + 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class SuspendForOutcomes:
    """TITE-BOIN12's accrual suspension: wait until more than ``1 - max_pending`` of the current
    dose's patients have their DLT outcome known, and as many their response (with 0.5: at least
    floor(n / 2) + 1 of each, as the software's ``min(floor(n susp + 1), n)``).

    The wait ends, at the latest, when enough DLT and efficacy windows have closed.

    References
    ----------
    Zhou Y, Lin R, Lee JJ, Li D, Wang L, Li R, Yuan Y (2022). Stat Med 41:1918-1931.
    """

    max_pending: float = 0.5

    @property
    def label(self) -> str:
        return f"SuspendForOutcomes(max_pending={self.max_pending:g})"

    def evaluate(self, ctx: DecisionContext) -> tuple[RuleOutcome, int | None]:
        cur = ctx.current_index
        if cur is None or ctx.data.counts is not None:
            return _outcome(self.label, False, "No patient has been treated yet."), None
        if ctx.eliminated[cur]:
            return _outcome(
                self.label, False, "The current dose is eliminated: elimination takes precedence."
            ), None
        data = ctx.data
        e = data.efficacy_summary()
        at = [
            (p, bool(tk), bool(ek))
            for p, tk, ek in zip(data.patients, e.tox_known, e.eff_known, strict=True)
            if p.dose_level == cur + 1
        ]
        n = len(at)
        needed = min(math.floor(n * (1 - self.max_pending) + 1e-12) + 1, n)
        tox_known = sum(tk for _, tk, _ in at)
        eff_known = sum(ek for _, _, ek in at)
        if tox_known >= needed and eff_known >= needed:
            return _outcome(
                self.label,
                False,
                f"{tox_known} DLT outcomes and {eff_known} responses known of {n} patients at "
                f"dose level {cur + 1} (at least {needed} of each needed).",
            ), None
        tox_days = sorted(data.window_closes_day(p) for p, tk, _ in at if not tk)
        eff_days = sorted(data.efficacy_closes_day(p) for p, _, ek in at if not ek)
        until = data.as_of_day + 1
        if tox_known < needed:
            until = max(until, tox_days[needed - tox_known - 1])
        if eff_known < needed:
            until = max(until, eff_days[needed - eff_known - 1])
        detail = (
            f"Only {tox_known} DLT outcomes and {eff_known} responses known of {n} patients at "
            f"dose level {cur + 1} (at least {needed} of each needed): accrual is suspended."
        )
        return _outcome(self.label, True, detail), until


@dataclass(frozen=True, slots=True, kw_only=True)
class SuspendWhenPending:
    """TITE-BOIN's accrual suspension: wait while more than ``max_pending`` of the current dose's
    patients are pending, and at the lowest dose while the model asks to de-escalate with patients
    pending there.

    The wait ends when enough pending windows have closed (a DLT may end it earlier).

    References
    ----------
    Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Time-to-event Bayesian optimal interval design to
    accelerate phase I trials. Clin Cancer Res 24:4921-4930 (accrual suspension rule); TITEgBOIN
    0.4.0 ``next_TITE_QuasiBOIN``.
    """

    max_pending: float = 0.5

    @property
    def label(self) -> str:
        return f"SuspendWhenPending(max_pending={self.max_pending:g})"

    def evaluate(self, ctx: DecisionContext) -> tuple[RuleOutcome, int | None]:
        cur = ctx.current_index
        if cur is None:
            return _outcome(self.label, False, "No patient has been treated yet."), None
        pending = _pending_at(ctx, cur)
        n = int(ctx.summary.n_treated[cur])
        m = len(pending)
        if ctx.eliminated[cur]:
            return _outcome(
                self.label, False, "The current dose is eliminated: elimination takes precedence."
            ), None
        closes = sorted(ctx.data.window_closes_day(p) for p in pending)
        if m > self.max_pending * n:
            needed = math.ceil(m - self.max_pending * n - 1e-12)
            detail = (
                f"{m} of {n} patients at dose level {cur + 1} are still inside the DLT window, "
                f"more than {self.max_pending:g} of them: accrual is suspended."
            )
            return _outcome(self.label, True, detail), closes[needed - 1]
        if cur == 0 and m > 0 and ctx.model_direction is Action.DEESCALATE:
            detail = (
                f"The data at the lowest dose call for de-escalation with {_plural(m, 'patient')} "
                "still inside the DLT window: accrual is suspended until more is known."
            )
            return _outcome(self.label, True, detail), closes[0]
        return _outcome(
            self.label,
            False,
            f"{m} of {n} patients at dose level {cur + 1} pending (limit {self.max_pending:g}).",
        ), None


@dataclass(frozen=True, slots=True, kw_only=True)
class Stagger:
    """Sentinel dosing: at a dose level where no patient has completed the DLT window, the next
    patient is infused only once the previous patient at that level has ``days`` of follow-up.

    The first patient at a new dose level needs no wait.
    """

    days: int

    @property
    def label(self) -> str:
        return f"Stagger(days={self.days})"

    def evaluate(self, ctx: DecisionContext) -> tuple[RuleOutcome, int | None]:
        nxt = ctx.next_index
        if nxt is None:
            return _outcome(self.label, False, "No next dose."), None
        if ctx.data.counts is not None:  # counted patients: infused on day 0, all complete
            n, y = ctx.data.counts[nxt]
            if n == 0:
                return _outcome(
                    self.label,
                    False,
                    f"Dose level {nxt + 1} is new: its first patient needs no wait.",
                ), None
            done = n > y or ctx.data.as_of_day >= self.days
            detail = (
                f"The patients counted at dose level {nxt + 1} have completed the DLT window."
                if n > y
                else f"The patients counted at dose level {nxt + 1} have "
                f"{ctx.data.as_of_day} days of follow-up ({'>=' if done else '<'} {self.days})."
            )
            return _outcome(self.label, not done, detail), None if done else self.days
        at_level = [
            (p, state)
            for p, state in zip(ctx.data.patients, ctx.summary.state, strict=True)
            if p.dose_level == nxt + 1
        ]
        if not at_level:
            return _outcome(
                self.label, False, f"Dose level {nxt + 1} is new: its first patient needs no wait."
            ), None
        if any(state is PatientState.COMPLETE for _, state in at_level):
            return _outcome(
                self.label,
                False,
                f"A patient at dose level {nxt + 1} has completed the DLT window.",
            ), None
        last = max(at_level, key=lambda ps: (ps[0].infused_day, ps[0].patient_id))[0]
        ready = last.infused_day + self.days
        if ctx.data.as_of_day >= ready:
            return _outcome(
                self.label,
                False,
                f"Patient {last.patient_id} at dose level {nxt + 1} has {ctx.data.as_of_day - last.infused_day} "
                f"days of follow-up (>= {self.days}).",
            ), None
        detail = (
            f"No patient at dose level {nxt + 1} has completed the DLT window and the last one "
            f"({last.patient_id}) has {ctx.data.as_of_day - last.infused_day} of the {self.days} days "
            "of follow-up required before the next infusion."
        )
        return _outcome(self.label, True, detail), ready
