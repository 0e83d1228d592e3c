"""Waiting rules: when pending patients make a decision premature, say until when."""

from __future__ import annotations

from dataclasses import dataclass

from escalation.data import PatientState
from escalation.decision import RuleKind, RuleOutcome
from escalation.rules.context import DecisionContext

__all__ = ["WaitForPending"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitForPending:
    """Wait while any patient at the current dose is inside the DLT window (non-TITE designs).

    The wait ends, at the latest, when the last of those windows closes.
    """

    @property
    def label(self) -> str:
        return "WaitForPending()"

    def evaluate(self, ctx: DecisionContext) -> tuple[RuleOutcome, int | None]:
        """The outcome, and the study day the wait ends (None when there is no need to wait)."""
        data, cur = ctx.data, ctx.current_index
        pending = [
            p
            for p, state in zip(data.patients, ctx.summary.state, strict=True)
            if state is PatientState.PENDING and cur is not None and p.dose_level == cur + 1
        ]
        if not pending:
            return RuleOutcome(
                label=self.label,
                kind=RuleKind.WAITING,
                triggered=False,
                detail="No patient at the current dose is still inside the DLT window.",
            ), None
        until = max(data.window_closes_day(p) for p in pending)
        ids = ", ".join(sorted(p.patient_id for p in pending))
        detail = (
            f"{len(pending)} patient{'s' if len(pending) > 1 else ''} at dose level {cur + 1 if cur is not None else '-'} "
            f"still inside the {data.dlt_window_days}-day DLT window ({ids})."
        )
        return RuleOutcome(
            label=self.label, kind=RuleKind.WAITING, triggered=True, detail=detail
        ), until
