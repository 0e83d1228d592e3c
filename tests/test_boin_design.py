"""BOIN trial conduct: each rule of R's get.oc, through the decision pipeline."""

from __future__ import annotations

import pytest

from escalation import BOIN, Action, Patient, TrialData
from escalation.documents import parse_document
from tests.conftest import boin_doc


def decide(n: list[int], y: list[int], current: int, **options: object):
    design = BOIN(n_doses=len(n), target=0.3, **options)  # type: ignore[arg-type]
    return design.decide(TrialData.from_counts(n, y, current_level=current))


@pytest.mark.parametrize(
    ("n", "y", "current", "action", "next_level"),
    [
        ([3, 0, 0, 0, 0], [0, 0, 0, 0, 0], 1, Action.ESCALATE, 2),
        ([3, 3, 0, 0, 0], [0, 1, 0, 0, 0], 2, Action.STAY, 2),
        ([3, 3, 0, 0, 0], [0, 2, 0, 0, 0], 2, Action.DEESCALATE, 1),
        ([3, 0, 0, 0, 0], [2, 0, 0, 0, 0], 1, Action.STAY, 1),  # cannot go below level 1
        ([3, 3, 3, 3, 3], [0, 0, 0, 0, 0], 5, Action.STAY, 5),  # highest dose
        ([3, 6, 0, 0, 0], [0, 1, 0, 0, 0], 2, Action.ESCALATE, 3),  # 1/6 <= 0.236
        ([3, 6, 0, 0, 0], [0, 3, 0, 0, 0], 2, Action.DEESCALATE, 1),  # 3/6 > 0.359
    ],
)
def test_interval_decisions(n, y, current, action, next_level) -> None:
    d = decide(n, y, current)
    assert (d.action, d.next_level) == (action, next_level)


def test_elimination_removes_dose_and_all_above_and_blocks_escalation() -> None:
    d = decide([3, 3, 3, 0, 0], [0, 0, 3, 0, 0], 3)
    assert d.eliminated == (3, 4, 5)
    assert (d.action, d.next_level) == (Action.DEESCALATE, 2)
    # back at level 2 with 0/6: BOIN says escalate, but level 3 is eliminated: stay
    d = decide([3, 6, 3, 0, 0], [0, 0, 3, 0, 0], 2)
    assert (d.action, d.next_level) == (Action.STAY, 2)
    assert any(r.label == "ExcludeEliminated()" and r.triggered for r in d.rules)


def test_lowest_dose_eliminated_stops_with_no_dose() -> None:
    d = decide([3, 0, 0, 0, 0], [3, 0, 0, 0, 0], 1)
    assert d.action is Action.STOP
    assert d.next_level is None
    assert d.selection is not None and d.selection.dose_level is None
    assert "too toxic" in d.reason


def test_extra_safe_stops_where_plain_boin_stays() -> None:
    # 2/3 at level 1: Pr(p > 0.3 | Beta(3, 2)) = 0.916, > 0.90 but not > 0.95
    plain = decide([3, 0, 0, 0, 0], [2, 0, 0, 0, 0], 1)
    assert (plain.action, plain.next_level) == (Action.STAY, 1)
    safe = decide([3, 0, 0, 0, 0], [2, 0, 0, 0, 0], 1, extra_safe=True)
    assert safe.action is Action.STOP
    assert safe.selection is not None and safe.selection.dose_level is None
    assert any(r.label.startswith("StopWhenTooToxic") and r.triggered for r in safe.rules)


def test_n_stop_applies_only_when_staying() -> None:
    # 1/6 at level 2 escalates: no stop although 6 patients are there
    assert decide([3, 6, 0, 0, 0], [0, 1, 0, 0, 0], 2, n_stop=6).action is Action.ESCALATE
    stop = decide([3, 6, 0, 0, 0], [0, 2, 0, 0, 0], 2, n_stop=6)
    assert stop.action is Action.STOP
    assert stop.selection is not None and stop.selection.dose_level == 2
    # at the highest dose, escalation becomes stay: the rule applies (R's n.earlystop)
    top = decide([3, 3, 6], [0, 0, 0], 3, n_stop=6)
    assert top.action is Action.STOP


def test_max_patients_stops_and_selects_by_isotonic_regression() -> None:
    d = decide([3, 3, 15, 9, 0], [0, 0, 4, 4, 0], 4)
    assert d.action is Action.STOP
    assert d.selection is not None and d.selection.dose_level == 3  # Yan et al. (2019), p. 15


def test_first_cohort_starts_at_start_level() -> None:
    design = BOIN(n_doses=5, target=0.3, start_level=2)
    d = design.decide(TrialData(n_doses=5))
    assert (d.action, d.current_level, d.next_level) == (Action.STAY, None, 2)


def test_pending_patients_at_current_dose_make_boin_wait() -> None:
    doc = parse_document(
        boin_doc(
            [
                {"id": "A", "dose_level": 1, "infused_on": "2026-03-01", "dlt": False},
                {"id": "B", "dose_level": 1, "infused_on": "2026-03-02", "dlt": False},
                {"id": "C", "dose_level": 2, "infused_on": "2026-05-10", "dlt": False},
                {"id": "D", "dose_level": 2, "infused_on": "2026-05-20", "dlt": False},
            ]
        )
    )
    d = doc.design.decide(doc.data)
    assert d.action is Action.WAIT
    assert doc.day_to_date(d.wait_until_day).isoformat() == "2026-06-19"
    assert "C, D" in d.reason


def test_withdrawn_patients_are_not_evaluable() -> None:
    data = TrialData(
        n_doses=3,
        as_of_day=100,
        patients=(
            *(Patient(patient_id=f"A{k}", dose_level=1, infused_day=k) for k in range(2)),
            Patient(patient_id="W", dose_level=1, infused_day=5, withdrawn_day=9),
        ),
    )
    d = BOIN(n_doses=3, target=0.3).decide(data)
    assert d.doses[0].n_complete == 2
    assert d.doses[0].withdrawn == 1
    assert d.next_level == 2  # 0/2 escalates


def test_every_decision_names_its_rules() -> None:
    d = decide([3, 3, 3, 0, 0], [0, 0, 3, 0, 0], 3)
    labels = {r.label for r in d.triggered}
    assert "EliminateToxicDoses(cutoff=0.95, min_n=3)" in labels
    assert "boin" in labels
