"""Backfill: while an escalation cohort is pending, treat arriving patients at lower cleared doses.

The design option, in the trial document::

    "backfill": {"max_per_dose": 12, "min_responses": 1, "assign": "highest"}

Backfill patients (``cohort: "backfill"``) count in every escalation decision and in the final
selection, as escalation patients do. Every rule of backfill lives in this module:

**Opening, BOIN family** (BF-BOIN, Zhao et al. 2024; R bfboin's ``sim.one.trial``). With the
current (most recent escalation) dose level d, a lower level b < d is open when

1. b has been tried and is not eliminated;
2. at least ``min_responses`` responses have been observed at b;
3. b is *safe*: its complete data do not call for de-escalation (y_b < the de-escalation boundary
   at n_b), or its complete data pooled with those of level b + 1 do not (y_b + y_{b+1} below the
   boundary at n_b + n_{b+1}); an unsafe level closes itself and every level above it;
4. fewer than ``max_per_dose`` patients (every cohort, pending ones included) have been treated at b.

Among the open levels the next backfill patient goes to the highest, the lowest, or one drawn at
random (``assign``).

**Conflicts, BOIN family** (BF-BOIN's rule; :func:`resolve_conflict`). Every tried level up to d
gets BOIN's call on its complete data (escalation and backfill patients pooled): escalate, stay,
de-escalate or eliminate. Without conflict (the current call escalates and every lower call
escalates; stays with every lower call stay or escalate; de-escalates with every lower call stay or
escalate) the current call stands. Otherwise b* is the highest lower level in conflict (for an
escalating current call: the highest lower level not calling to escalate; else the highest lower
level calling to de-escalate or eliminate) and the data of levels b*..d are pooled: escalate when
the pooled DLTs are at most the escalation boundary at the pooled n, de-escalate when they reach
the de-escalation boundary -- to the highest level k in b*..d whose data pooled from b* to k stay
below it (none: to b* - 1, at least the lowest level) -- and stay otherwise.

**Opening, model-based designs** (CRM, TITE-CRM, BLRM; crmPack 2.1's ``Backfill`` with
``OpeningMinResponses``): a lower level b < d is open when it has been tried, is admissible (not
eliminated by the design's safety rules), is not above the model's recommended next dose level,
has at least ``min_responses`` responses and fewer than ``max_per_dose`` patients.

A response counts once known: ``response`` true and its ``response_on`` date (if given) on or
before the as-of date.

References
----------
Zhao Y, Yuan Y, Korn EL, Freidlin B (2024). Backfilling patients in phase I dose-escalation trials
using Bayesian optimal interval design (BOIN). Clin Cancer Res 30:673-679.
R package bfboin 0.1.0 (openpharma), ``sim.one.trial``: the opening conditions cond.1 to cond.4
and the conflict rule.
crmPack 2.1 (Sabanes Bove et al.), classes ``Backfill``, ``OpeningMinResponses``: backfill in
model-based designs.

Examples
--------
>>> from escalation.data import Patient, TrialData
>>> plan = BackfillPlan(max_per_dose=12, min_responses=1, assign="highest")
>>> data = TrialData(n_doses=3, as_of_day=70, patients=tuple(
...     Patient(patient_id=f"P{k}", dose_level=1 + k // 3, infused_day=10 * k,
...             response=(k == 0)) for k in range(6)))
>>> status = interval_backfill_status(plan, data, current_index=1,
...     eliminated=[False, False, False], target=0.25, phi1=0.15, phi2=0.35, cutoff=0.95)
>>> status.open_levels, status.assign_level
((1,), 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from escalation.data import TrialData
from escalation.decision import BackfillStatus
from escalation.errors import InvalidDesignError, Problem
from escalation.models.boundaries import BoundaryRow, boundary_row

__all__ = [
    "ASSIGN_RULES",
    "BackfillPlan",
    "closed_at_stop",
    "interval_backfill_status",
    "interval_call",
    "model_backfill_status",
    "parse_backfill",
    "resolve_conflict",
    "responses_at_dose",
]

#: how a backfill patient is assigned among the open levels
ASSIGN_RULES = ("highest", "lowest", "random")
_KEYS = ("max_per_dose", "min_responses", "assign")
#: the largest backfill cap per dose a document may ask for
MAX_PER_DOSE = 1000

IntArray = npt.NDArray[np.int64]


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillPlan:
    """The backfill option of a design (see the module docstring).

    Parameters
    ----------
    max_per_dose
        A level takes backfill patients while fewer than this many patients (every cohort) have
        been treated there (BF-BOIN's cap, 12 in the paper).
    min_responses
        Responses needed at a level before it opens (BF-BOIN: 1; 0 opens without responses).
    assign
        ``"highest"``, ``"lowest"`` or ``"random"``: which open level the next backfill patient
        gets.

    Raises
    ------
    InvalidDesignError
        With every problem, named ``backfill.<field>``.
    """

    #: the ``assign`` rules and the largest ``max_per_dose`` and ``min_responses`` (the schema states them)
    assign_rules: ClassVar[tuple[str, ...]] = ASSIGN_RULES
    max_count: ClassVar[int] = MAX_PER_DOSE

    max_per_dose: int = 12
    min_responses: int = 1
    assign: str = "highest"

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise InvalidDesignError(problems)

    def problems(self, where: str = "backfill") -> list[Problem]:
        """Every problem with the plan, each field prefixed by ``where``."""
        out = []
        if not _is_int(self.max_per_dose) or not 1 <= self.max_per_dose <= MAX_PER_DOSE:
            out.append(
                Problem(
                    field=f"{where}.max_per_dose",
                    message=f"must be a whole number from 1 to {MAX_PER_DOSE}, "
                    f"got {self.max_per_dose!r}",
                )
            )
        if not _is_int(self.min_responses) or not 0 <= self.min_responses <= MAX_PER_DOSE:
            out.append(
                Problem(
                    field=f"{where}.min_responses",
                    message=f"must be a whole number from 0 to {MAX_PER_DOSE}, "
                    f"got {self.min_responses!r}",
                )
            )
        if self.assign not in ASSIGN_RULES:
            out.append(
                Problem(
                    field=f"{where}.assign",
                    message=f"expected one of {', '.join(ASSIGN_RULES)}, got {self.assign!r}",
                )
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        """The plan as the trial document's ``design.backfill`` block."""
        return {
            "max_per_dose": self.max_per_dose,
            "min_responses": self.min_responses,
            "assign": self.assign,
        }

    def pick(
        self, open_levels: Sequence[int], rng: np.random.Generator | None = None
    ) -> int | None:
        """The level the next backfill patient gets (``None`` when none is open).

        ``rng`` is needed for ``assign: "random"`` with more than one open level; without it the
        random rule picks nothing (the caller draws).
        """
        if not open_levels:
            return None
        if self.assign == "highest":
            return max(open_levels)
        if self.assign == "lowest":
            return min(open_levels)
        if len(open_levels) == 1:
            return open_levels[0]
        if rng is None:
            return None
        return int(open_levels[int(rng.integers(len(open_levels)))])


def parse_backfill(block: Any, *, where: str) -> tuple[BackfillPlan | None, list[Problem]]:
    """A backfill plan from a document block, or ``None`` with every problem (named ``where.*``).

    Missing fields take their defaults (12, 1, "highest").
    """
    if not isinstance(block, Mapping):
        return None, [Problem(field=where, message=f"expected an object, got {block!r}")]
    problems = [
        Problem(field=f"{where}.{key}", message=f"unknown field (fields: {', '.join(_KEYS)})")
        for key in block
        if key not in _KEYS
    ]
    kwargs = {k: block[k] for k in _KEYS if k in block}
    try:
        plan = BackfillPlan(**kwargs)
    except InvalidDesignError as e:
        return None, problems + [
            Problem(field=where + p.field[len("backfill") :], message=p.message) for p in e.problems
        ]
    return (None, problems) if problems else (plan, [])


def responses_at_dose(data: TrialData) -> IntArray:
    """Known responses per dose index (response true, assessed on or before the as-of day)."""
    out = np.zeros(data.n_doses, dtype=np.int64)
    for p in data.patients:
        if p.response and (p.response_day is None or p.response_day <= data.as_of_day):
            out[p.dose_level - 1] += 1
    return out


Counts = Sequence[int] | IntArray


@dataclass(frozen=True, slots=True)
class _Boundaries:
    """BOIN's boundaries for a target, phi1, phi2 and elimination cutoff."""

    target: float
    phi1: float | None
    phi2: float | None
    cutoff: float

    def row(self, n: int) -> BoundaryRow:
        return boundary_row(
            max(n, 1), target=self.target, phi1=self.phi1, phi2=self.phi2, cutoff=self.cutoff
        )

    def call(self, n: int, y: int) -> str:
        return interval_call(
            n, y, target=self.target, phi1=self.phi1, phi2=self.phi2, cutoff=self.cutoff
        )

    def deescalates(self, n: int, y: int) -> bool:
        """Whether y DLTs among n complete patients reach the de-escalation boundary."""
        return n >= 1 and y >= self.row(n).deescalate_at_least


def interval_call(
    n: int, y: int, *, target: float, phi1: float | None, phi2: float | None, cutoff: float
) -> str:
    """BOIN's call on n complete patients with y DLTs at one level (BF-BOIN's per-dose decision):
    ``"escalate"``, ``"stay"``, ``"de-escalate"`` or ``"eliminate"``; an untried level escalates
    (bfboin evaluates it at n = 1 with no DLT)."""
    row = boundary_row(max(n, 1), target=target, phi1=phi1, phi2=phi2, cutoff=cutoff)
    if y <= row.escalate_at_most:
        return "escalate"
    if row.eliminate_at_least is not None and y >= row.eliminate_at_least:
        return "eliminate"
    if y >= row.deescalate_at_least:
        return "de-escalate"
    return "stay"


def resolve_conflict(
    n_complete: Counts,
    n_dlt: Counts,
    current_index: int,
    current_call: str,
    *,
    target: float,
    phi1: float | None,
    phi2: float | None,
    cutoff: float,
) -> tuple[str, int, str] | None:
    """BF-BOIN's rule for a conflict between the current dose and the backfilled lower doses.

    Parameters
    ----------
    n_complete, n_dlt
        Complete patients and DLTs per dose index (escalation and backfill pooled).
    current_index
        The current dose index d.
    current_call
        The design's call at d: ``"escalate"``, ``"stay"``, ``"de-escalate"`` or ``"eliminate"``.
    target, phi1, phi2, cutoff
        BOIN's options (its boundaries).

    Returns
    -------
    tuple or None
        ``None`` when there is no conflict (the current call stands); otherwise the resolved move
        (``"escalate"``, ``"stay"`` or ``"de-escalate"``), the dose index it leads to (before the
        ends of the ladder and the eliminated doses are applied) and a sentence saying why.

    References
    ----------
    Zhao Y, Yuan Y, Korn EL, Freidlin B (2024). Clin Cancer Res 30:673-679 (the conflict rule).
    R bfboin 0.1.0, ``sim.one.trial`` (the conflict branches and ``d.safe``).
    """
    d = current_index
    if d == 0:
        return None
    rule = _Boundaries(target, phi1, phi2, cutoff)
    lower = [rule.call(int(n_complete[b]), int(n_dlt[b])) for b in range(d)]
    if current_call == "escalate":
        conflicting = [b for b in range(d) if lower[b] != "escalate"]
    else:
        conflicting = [b for b in range(d) if lower[b] in ("de-escalate", "eliminate")]
    if not conflicting:
        return None
    b_star = max(conflicting)
    n_pool = int(sum(n_complete[b_star : d + 1]))
    y_pool = int(sum(n_dlt[b_star : d + 1]))
    pooled = (
        f"BF-BOIN conflict: dose level {b_star + 1} calls to {lower[b_star]} while dose level "
        f"{d + 1} calls to {current_call}; pooled over levels {b_star + 1} to {d + 1}, "
        f"{y_pool} of {n_pool} patients had a DLT"
    )
    row = rule.row(n_pool)
    if y_pool <= row.escalate_at_most:
        return "escalate", d + 1, f"{pooled} (<= {row.escalate_at_most}): escalate."
    if y_pool < row.deescalate_at_least:
        return "stay", d, f"{pooled}: stay."
    # de-escalate to the highest level k in b*..d whose data pooled from b* up to k stay below
    # the de-escalation boundary
    safe = [
        k
        for k in range(b_star, d + 1)
        if not rule.deescalates(
            int(sum(n_complete[b_star : k + 1])), int(sum(n_dlt[b_star : k + 1]))
        )
    ]
    if not safe:
        k = max(b_star - 1, 0)
        why = f"no level from {b_star + 1} up is safe pooled"
    else:
        k = max(safe)
        why = f"dose level {k + 1} is the highest safe pooled from level {b_star + 1}"
    if k == d:
        return "stay", d, f"{pooled} (>= {row.deescalate_at_least}), but {why}: stay."
    return "de-escalate", k, f"{pooled} (>= {row.deescalate_at_least}); {why}: de-escalate."


def _common_closed(
    plan: BackfillPlan,
    data: TrialData,
    current_index: int,
    eliminated: Sequence[bool],
) -> dict[int, str]:
    """Closed levels below the current one for reasons shared by every design: untried,
    eliminated, too few responses, full."""
    s = data.summary
    responses = responses_at_dose(data)
    closed: dict[int, str] = {}
    for b in range(current_index):
        level = b + 1
        if s.n_treated[b] == 0:
            closed[level] = "untried"
        elif eliminated[b]:
            closed[level] = "eliminated"
        elif s.n_treated[b] >= plan.max_per_dose:
            closed[level] = (
                f"full: {int(s.n_treated[b])} patients treated (max_per_dose = {plan.max_per_dose})"
            )
        elif responses[b] < plan.min_responses:
            closed[level] = (
                f"{int(responses[b])} response{'s' if responses[b] != 1 else ''} observed "
                f"(min_responses = {plan.min_responses})"
            )
    return closed


def _status(
    plan: BackfillPlan, current_index: int | None, closed: dict[int, str]
) -> BackfillStatus:
    top = 0 if current_index is None else current_index
    open_levels = tuple(level for level in range(1, top + 1) if level not in closed)
    return BackfillStatus(
        open_levels=open_levels,
        closed=closed,
        assign=plan.assign,
        assign_level=plan.pick(open_levels),
    )


def closed_at_stop(status: BackfillStatus | None) -> BackfillStatus | None:
    """The backfill status once the escalation stops: every level closed (backfill runs only
    while the escalation does; BF-BOIN ends the trial with its escalation), the levels that were
    open saying so, the others keeping their reasons.

    The decision pipeline applies it to a safety stop at once, and to any other stop once no
    escalation patient is pending: a stop at the maximum sample size with the last cohort inside
    its window keeps the cleared levels open until its outcomes are known, as R bfboin's
    ``sim.one.trial`` backfills until the last escalation outcome (its ``max.t``)."""
    if status is None:
        return None
    closed = dict(status.closed)
    for level in status.open_levels:
        closed[level] = "the escalation has stopped: backfill ends with it"
    return BackfillStatus(open_levels=(), closed=closed, assign=status.assign, assign_level=None)


def interval_backfill_status(
    plan: BackfillPlan,
    data: TrialData,
    *,
    current_index: int | None,
    eliminated: Sequence[bool],
    target: float,
    phi1: float | None,
    phi2: float | None,
    cutoff: float,
) -> BackfillStatus:
    """Which levels below the current one are open for backfill in a BOIN-family design.

    The four conditions of the module docstring (BF-BOIN; bfboin's cond.1 to cond.4), on the
    complete data of the decision's patients (escalation and backfill).

    References
    ----------
    Zhao Y, Yuan Y, Korn EL, Freidlin B (2024). Clin Cancer Res 30:673-679.
    R bfboin 0.1.0, ``sim.one.trial`` (cond.1 to cond.4 and ``safe.doses``).
    """
    if current_index is None:
        return _status(plan, None, {})
    s = data.summary
    n, y = s.n_complete, s.n_dlt
    rule = _Boundaries(target, phi1, phi2, cutoff)
    closed = _common_closed(plan, data, current_index, eliminated)
    unsafe_from: int | None = None
    for b in range(current_index):
        own = rule.deescalates(int(n[b]), int(y[b]))
        pooled = rule.deescalates(int(n[b] + n[b + 1]), int(y[b] + y[b + 1]))
        if own and pooled:
            unsafe_from = b
            break
    if unsafe_from is not None:
        for b in range(unsafe_from, current_index):
            level = b + 1
            if level in closed and closed[level] in ("untried", "eliminated"):
                continue
            closed[level] = (
                f"not safe: {int(y[unsafe_from])} of {int(n[unsafe_from])} patients at dose "
                f"level {unsafe_from + 1} had a DLT, at or above the de-escalation boundary, alone "
                f"and pooled with level {unsafe_from + 2}"
                if b == unsafe_from
                else f"not safe: dose level {unsafe_from + 1} below it is not safe"
            )
    return _status(plan, current_index, closed)


def model_backfill_status(
    plan: BackfillPlan,
    data: TrialData,
    *,
    current_index: int | None,
    eliminated: Sequence[bool],
    recommended_index: int | None,
) -> BackfillStatus:
    """Which levels below the current one are open for backfill in a model-based design.

    crmPack 2.1's ``Backfill`` with ``OpeningMinResponses`` at the level, closed above the model's
    recommended next dose (``recommended_index``; ``None``: every level is closed) and at doses the
    safety rules eliminated (the module docstring).

    References
    ----------
    crmPack 2.1, ``Backfill``, ``OpeningMinResponses``, ``openCohort``.
    """
    if current_index is None:
        return _status(plan, None, {})
    closed = _common_closed(plan, data, current_index, eliminated)
    for b in range(current_index):
        level = b + 1
        if level in closed:
            continue
        if recommended_index is None:
            closed[level] = "the model recommends no dose"
        elif b > recommended_index:
            closed[level] = f"above the model's recommended dose level {recommended_index + 1}"
    return _status(plan, current_index, closed)
