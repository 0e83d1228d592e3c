"""Backfill (BF-BOIN and the model-based opening rule): exact rules on hand-made data, a property.

BOIN's boundaries for target 0.25 (phi1 0.15, phi2 0.35; lambda_e 0.197, lambda_d 0.298): with n
patients, escalate at <= floor(0.197 n) DLTs, de-escalate at >= ceil(0.298 n): n = 3: 0 / 1,
n = 6: 1 / 2, n = 9: 1 / 3, n = 12: 2 / 4, n = 15: 2 / 5, n = 18: 3 / 6. The expected answers below
follow R bfboin's ``sim.one.trial`` by hand.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalation import BOIN, CRM, TITEBOIN, InvalidDesignError, Patient, TrialData
from escalation.backfill import (
    BackfillPlan,
    interval_backfill_status,
    interval_call,
    parse_backfill,
    resolve_conflict,
)
from escalation.designs.three_plus_three import ThreePlusThree
from escalation.documents import parse_design

OPTS = {"target": 0.25, "phi1": 0.15, "phi2": 0.35, "cutoff": 0.95}
PLAN = BackfillPlan(max_per_dose=12, min_responses=1, assign="highest")


@pytest.mark.parametrize(
    ("n", "y", "call"),
    [
        (3, 0, "escalate"),
        (3, 1, "de-escalate"),
        (3, 3, "eliminate"),
        (9, 2, "stay"),
        (12, 4, "de-escalate"),
        (0, 0, "escalate"),
    ],
)
def test_interval_call(n: int, y: int, call: str) -> None:
    assert interval_call(n, y, **OPTS) == call


@pytest.mark.parametrize(
    ("n", "y", "cur", "call", "expected"),
    [
        # no conflict: every lower level escalates
        ([12, 6, 0], [1, 3, 0], 1, "de-escalate", None),
        # current escalates, level 1 de-escalates (4/12): pooled 4/15 is between 2 and 5: stay
        ([12, 3, 0], [4, 0, 0], 1, "escalate", ("stay", 1)),
        # current escalates, level 1 stays (2/9): pooled 2/12 <= 2: escalate
        ([9, 3, 0], [2, 0, 0], 1, "escalate", ("escalate", 2)),
        # two lower levels; level 1 stays, level 2 escalates: b* = 1, pooled 3/18 <= 3: escalate
        ([9, 6, 3], [2, 1, 0], 2, "escalate", ("escalate", 3)),
        # current de-escalates (1/3), level 1 de-escalates (3/9): pooled 4/12 >= 4; no level is
        # safe pooled from level 1 (3/9, 4/12): to b* - 1, held at the lowest level
        ([9, 3, 0], [3, 1, 0], 1, "de-escalate", ("de-escalate", 0)),
        # current stays (2/9 at level 3), level 2 de-escalates (4/12); pooled 6/21 >= 7? no:
        # ceil(0.298 * 21) = 7, escalate <= 4: 6 is between: stay
        ([3, 12, 9], [0, 4, 2], 2, "stay", ("stay", 2)),
        # current de-escalates (2/3 at level 3), level 2 de-escalates (4/12): pooled 6/15 >= 5;
        # pooled from level 2: 4/12 de-escalates, 6/15 too: none safe: to level 1
        ([3, 12, 3], [0, 4, 2], 2, "de-escalate", ("de-escalate", 0)),
        # current escalates (0/3 at level 3), level 2 de-escalates (2/6): pooled 2/9 stays: stay
        ([3, 6, 3], [0, 2, 0], 2, "escalate", ("stay", 2)),
    ],
)
def test_conflict_rule(
    n: list[int], y: list[int], cur: int, call: str, expected: tuple[str, int] | None
) -> None:
    got = resolve_conflict(n, y, cur, call, **OPTS)
    assert (got if got is None else got[:2]) == expected


def test_conflict_rule_safe_level_above_b_star() -> None:
    """De-escalation goes to the highest level k whose data pooled from b* up to k are safe."""
    # level 1: 4/12 de-escalates alone (>= 4); pooled with level 2 (0/3): 4/15 < 5 is safe; with
    # level 3 (3/3): 7/18 >= ceil(5.37) = 6 is not. Current level 3 calls to eliminate, b* = level
    # 1, pooled 7/18 >= 6: de-escalate to level 2 (index 1)
    got = resolve_conflict([12, 3, 3], [4, 0, 3], 2, "eliminate", **OPTS)
    assert got is not None and got[:2] == ("de-escalate", 1)


def _patients(
    rows: list[tuple[int, int, int, bool]], *, start: int = 0, cohort: str = "escalation"
) -> list[Patient]:
    """(level, patients, DLTs, first responds) rows, complete, infused from day ``start``."""
    out = []
    for level, n, y, responds in rows:
        for k in range(n):
            day = start + len(out)
            out.append(
                Patient(
                    patient_id=f"{cohort[0]}{level}-{k}-{start}",
                    dose_level=level,
                    infused_day=day,
                    dlt=k < y,
                    dlt_day=day + 5 if k < y else None,
                    cohort=cohort,
                    response=(responds and k == n - 1) or None,
                )
            )
    return out


def _status(patients: list[Patient], *, current: int, n_doses: int = 4, eliminated: int = 0):
    data = TrialData(
        n_doses=n_doses, patients=tuple(patients), as_of_day=200, current_level=current
    )
    elim = [i >= n_doses - eliminated for i in range(n_doses)]
    return interval_backfill_status(PLAN, data, current_index=current - 1, eliminated=elim, **OPTS)


def test_open_when_cleared_with_a_response() -> None:
    s = _status(_patients([(1, 3, 0, True), (2, 3, 0, True), (3, 3, 0, False)]), current=3)
    assert s.open_levels == (1, 2) and s.closed == {}
    assert s.assign_level == 2


def test_closed_without_the_required_responses() -> None:
    s = _status(_patients([(1, 3, 0, False), (2, 3, 0, True), (3, 3, 0, False)]), current=3)
    assert s.open_levels == (2,)
    assert s.closed[1].startswith("0 responses observed")


def test_closed_when_full() -> None:
    rows = _patients([(1, 3, 0, True), (2, 3, 0, True)]) + _patients(
        [(1, 9, 1, False)], start=50, cohort="backfill"
    )
    s = _status(rows, current=2)
    assert s.open_levels == () and s.closed[1].startswith("full: 12 patients")


def test_safe_by_pooling_with_the_level_above() -> None:
    """Level 1 at 1/3 calls to de-escalate alone, but pooled with level 2 (0/3) 1/6 does not."""
    s = _status(_patients([(1, 3, 1, True), (2, 3, 0, True), (3, 3, 0, False)]), current=3)
    assert s.open_levels == (1, 2)


def test_unsafe_closes_the_levels_above() -> None:
    """Level 1 at 1/3, pooled with level 2 at 1/3: 2/6 de-escalates: levels 1 and 2 close."""
    s = _status(_patients([(1, 3, 1, True), (2, 3, 1, True), (3, 3, 0, False)]), current=3)
    assert s.open_levels == ()
    assert s.closed[1].startswith("not safe") and s.closed[2].startswith("not safe")


def test_untried_and_eliminated_levels_are_closed() -> None:
    # starting at level 2: level 1 untried; level 2 eliminated by the caller's rule
    s = _status(_patients([(2, 3, 0, True), (3, 3, 0, True)]), current=3, eliminated=3)
    assert s.closed == {1: "untried", 2: "eliminated"}


def test_boin_decision_reports_backfill_and_resolves_a_conflict() -> None:
    design = BOIN(n_doses=3, target=0.25, backfill=PLAN)
    # level 1: 3 escalation (0 DLT) + 9 backfill with 4 DLTs: 4/12 de-escalates; level 2: 0/3
    # escalates; pooled 4/15 stays
    rows = _patients([(1, 3, 0, True), (2, 3, 0, True)]) + _patients(
        [(1, 9, 4, False)], start=50, cohort="backfill"
    )
    data = TrialData(n_doses=3, patients=tuple(rows), as_of_day=200, current_level=2)
    decision = design.decide(data)
    assert decision.action.value == "stay" and decision.next_level == 2
    assert "BF-BOIN conflict" in decision.reason
    assert decision.backfill is not None
    assert decision.backfill.open_levels == ()
    assert decision.backfill.closed[1].startswith("full")
    # without the backfill option the same data escalate
    assert BOIN(n_doses=3, target=0.25).decide(data).action.value == "escalate"


def test_max_patients_counts_escalation_patients_with_backfill() -> None:
    rows = _patients([(1, 3, 0, True), (2, 3, 0, True)]) + _patients(
        [(1, 5, 0, False)], start=50, cohort="backfill"
    )
    data = TrialData(n_doses=3, patients=tuple(rows), as_of_day=200, current_level=2)
    assert BOIN(n_doses=3, target=0.25, max_patients=6).decide(data).action.value == "stop"
    with_bf = BOIN(n_doses=3, target=0.25, max_patients=9, backfill=PLAN).decide(data)
    assert with_bf.action.value == "escalate"


def test_backfill_patients_do_not_hold_the_decision() -> None:
    """A backfill patient pending at the current dose does not make BOIN wait."""
    rows = [
        *_patients([(1, 3, 0, True), (2, 3, 0, True)]),
        Patient(patient_id="B1", dose_level=2, infused_day=190, cohort="backfill"),
    ]
    data = TrialData(n_doses=3, patients=tuple(rows), as_of_day=200, current_level=2)
    assert BOIN(n_doses=3, target=0.25, backfill=PLAN).decide(data).action.value == "escalate"


def test_document_option_parses_and_round_trips() -> None:
    block = {"method": "tite-boin", "target": 0.25, "backfill": {"max_per_dose": 10}}
    design = parse_design(block, n_doses=4)
    assert isinstance(design, TITEBOIN)
    assert design.backfill == BackfillPlan(max_per_dose=10, min_responses=1, assign="highest")
    assert design.options()["backfill"] == {
        "max_per_dose": 10,
        "min_responses": 1,
        "assign": "highest",
    }
    assert parse_design(design.options(), n_doses=4) == design
    assert "backfill" not in BOIN(n_doses=3, target=0.25).options()


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"max_per_dose": 0}, "design.backfill.max_per_dose"),
        ({"min_responses": -1}, "design.backfill.min_responses"),
        ({"assign": "middle"}, "design.backfill.assign"),
        ({"cap": 3}, "design.backfill.cap"),
        ([], "design.backfill"),
    ],
)
def test_document_option_problems_name_the_field(block: object, field: str) -> None:
    with pytest.raises(InvalidDesignError) as e:
        parse_design({"method": "boin", "target": 0.25, "backfill": block}, n_doses=3)
    assert field in [p.field for p in e.value.problems]


def test_designs_without_backfill_refuse_the_option() -> None:
    _, problems = parse_backfill({"assign": "lowest"}, where="design.backfill")
    assert problems == []
    with pytest.raises(InvalidDesignError) as e:
        ThreePlusThree(n_doses=3, target=0.25, backfill=PLAN)
    assert [p.field for p in e.value.problems] == ["design.backfill"]


@st.composite
def _backfill_trials(draw: st.DrawFn) -> TrialData:
    """Escalation patients climbing from level 1 to a current level, backfill below it, some
    pending, random DLTs and responses."""
    n_doses = draw(st.integers(2, 5))
    current = draw(st.integers(1, n_doses))
    patients = []
    day = 0
    for level in range(1, current + 1):
        for k in range(draw(st.integers(1, 6)) if level < current else 3):
            day += draw(st.integers(0, 15))
            dlt = draw(st.booleans()) and draw(st.booleans())
            patients.append(
                Patient(
                    patient_id=f"E{level}-{k}",
                    dose_level=level,
                    infused_day=day,
                    dlt=dlt,
                    dlt_day=day + 3 if dlt else None,
                    response=draw(st.sampled_from([True, False, None])),
                )
            )
    for k in range(draw(st.integers(0, 15)) if current > 1 else 0):
        level = draw(st.integers(1, current - 1))
        infused = draw(st.integers(0, day))
        dlt = draw(st.booleans()) and draw(st.booleans())
        patients.append(
            Patient(
                patient_id=f"B{k}",
                dose_level=level,
                infused_day=infused,
                dlt=dlt,
                dlt_day=infused + 2 if dlt and infused + 2 <= day + 10 else None,
                cohort="backfill",
            )
        )
    patients = [
        Patient(**{**{s: getattr(p, s) for s in Patient.__slots__}, "dlt": p.dlt_day is not None})
        for p in patients
    ]
    return TrialData(
        n_doses=n_doses,
        patients=tuple(patients),
        as_of_day=day + 10,
        current_level=current,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_backfill_trials(), st.sampled_from(["boin", "tite-boin", "crm"]))
def test_backfill_never_goes_to_an_untried_eliminated_or_higher_dose(
    data: TrialData, method: str
) -> None:
    design = {
        "boin": lambda: BOIN(n_doses=data.n_doses, target=0.25, backfill=PLAN),
        "tite-boin": lambda: TITEBOIN(n_doses=data.n_doses, target=0.25, backfill=PLAN),
        "crm": lambda: CRM(
            n_doses=data.n_doses,
            target=0.25,
            skeleton=tuple(0.05 + 0.1 * i for i in range(data.n_doses)),
            backfill=PLAN,
        ),
    }[method]()
    decision = design.decide(data)
    status = decision.backfill
    assert status is not None
    current = data.current_dose_level
    assert current is not None
    treated = data.summary.n_treated
    for level in status.open_levels:
        assert level < current
        assert treated[level - 1] > 0
        assert treated[level - 1] < PLAN.max_per_dose
        assert level not in decision.eliminated
    assert set(status.open_levels).isdisjoint(status.closed)
    assert set(status.open_levels) | set(status.closed) == set(range(1, current))


@pytest.mark.parametrize("method", ["boin", "crm"])
def test_a_stop_closes_every_backfill_level(method: str) -> None:
    """Backfill runs while the escalation does: the decision that stops it closes the levels that
    were open, and says why."""
    rows = _patients([(1, 3, 0, True), (2, 3, 0, True), (3, 3, 0, True)])
    data = TrialData(n_doses=3, patients=tuple(rows), as_of_day=200, current_level=3)
    plan = BackfillPlan(min_responses=0)
    kwargs = {"skeleton": (0.1, 0.2, 0.3)} if method == "crm" else {}
    design = (CRM if method == "crm" else BOIN)(n_doses=3, target=0.3, backfill=plan, **kwargs)
    going = design.decide(data)
    assert going.action.value != "stop" and going.backfill is not None
    assert going.backfill.open_levels  # levels 1 and 2 were cleared
    stopped = replace(design, max_patients=9).decide(data)
    assert stopped.action.value == "stop" and stopped.backfill is not None
    assert stopped.backfill.open_levels == () and stopped.backfill.assign_level is None
    for level in going.backfill.open_levels:
        assert "escalation has stopped" in stopped.backfill.closed[level]


@pytest.mark.parametrize("method", ["boin", "crm"])
def test_backfill_stays_open_while_the_last_escalation_cohort_is_pending(method: str) -> None:
    """The maximum sample size is reached but the last escalation cohort is inside its window: the
    escalation ends when its outcomes are known, and backfill goes on until then (R bfboin's
    sim.one.trial backfills while the last cohort is pending; its ``max.t`` ends the trial)."""
    rows = _patients([(1, 3, 0, True), (2, 3, 0, True)])
    pending = [
        Patient(patient_id=f"E3-{k}", dose_level=3, infused_day=190 + k, cohort="escalation")
        for k in range(3)
    ]
    data = TrialData(n_doses=3, patients=(*rows, *pending), as_of_day=200, current_level=3)
    plan = BackfillPlan(min_responses=0)
    kwargs = {"skeleton": (0.1, 0.2, 0.3)} if method == "crm" else {}
    design = (CRM if method == "crm" else BOIN)(
        n_doses=3, target=0.3, backfill=plan, max_patients=9, **kwargs
    )
    during = design.decide(data)
    assert during.action.value == "stop" and during.backfill is not None
    assert during.backfill.open_levels == (1, 2)
    after = design.decide(replace(data, as_of_day=230))  # the last outcomes are known
    assert after.action.value == "stop" and after.backfill is not None
    assert after.backfill.open_levels == ()
