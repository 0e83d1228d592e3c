"""Hypothesis properties of every design's decisions."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from escalation import Action, Patient, TrialData
from tests.designs_catalog import DLT_ONLY_METHODS, make_design
from tests.strategies import complete_counts, trial_data

METHODS = DLT_ONLY_METHODS
SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(data=trial_data(), seed=st.integers(0, 2**32 - 1))
def test_patient_order_changes_nothing(method: str, data: TrialData, seed: int) -> None:
    shuffled = list(data.patients)
    random.Random(seed).shuffle(shuffled)
    other = dataclasses.replace(data, patients=tuple(shuffled))
    design = make_design(method, data.n_doses)
    a, b = design.decide(data), design.decide(other)
    assert (a.action, a.next_level, a.eliminated, a.reason) == (
        b.action,
        b.next_level,
        b.eliminated,
        b.reason,
    )
    assert design.select(data) == design.select(other)


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(counts=complete_counts())
def test_counts_and_patients_forms_agree(
    method: str, counts: tuple[list[int], list[int], int]
) -> None:
    n, y, current = counts
    from_counts = TrialData.from_counts(n, y, current_level=current)
    patients = []
    for i, (m, k) in enumerate(zip(n, y, strict=True)):
        for j in range(m):
            day = 0 if i + 1 != current else 5  # the current dose was treated last
            patients.append(
                Patient(
                    patient_id=f"x{i}-{j}",
                    dose_level=i + 1,
                    infused_day=day,
                    dlt=j < k,
                    dlt_day=day + 3 if j < k else None,
                )
            )
    from_patients = TrialData(n_doses=len(n), patients=tuple(patients), as_of_day=100)
    design = make_design(method, len(n))
    a, b = design.decide(from_counts), design.decide(from_patients)
    assert (a.action, a.next_level, a.eliminated) == (b.action, b.next_level, b.eliminated)
    assert design.select(from_counts) == design.select(from_patients)


def _rank(decision) -> int | None:
    return decision.next_level if decision.action is not Action.WAIT else None


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(data=trial_data(), pick=st.integers(0, 10_000))
def test_an_added_dlt_never_raises_the_next_dose(method: str, data: TrialData, pick: int) -> None:
    """Turning one complete non-DLT patient into a DLT never raises the recommended dose."""
    from escalation import PatientState

    candidates = [i for i, s in enumerate(data.summary.state) if s is PatientState.COMPLETE]
    assume(candidates)
    i = candidates[pick % len(candidates)]
    p = data.patients[i]
    worse = dataclasses.replace(p, dlt=True, dlt_day=p.infused_day + 1)
    other = dataclasses.replace(data, patients=(*data.patients[:i], worse, *data.patients[i + 1 :]))
    design = make_design(method, data.n_doses)
    before, after = design.decide(data), design.decide(other)
    assume(before.action is not Action.STOP and before.action is not Action.WAIT)
    if after.action in (Action.STOP, Action.WAIT):
        return  # stopping or waiting is never a higher dose
    assert after.next_level is not None and after.next_level <= before.next_level  # type: ignore[operator]
    assert set(before.eliminated) <= set(after.eliminated)


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(data=trial_data())
def test_never_skips_an_untried_dose_nor_recommends_an_eliminated_one(
    method: str, data: TrialData
) -> None:
    design = make_design(method, data.n_doses)
    d = design.decide(data)
    if d.next_level is None:
        return
    assert d.next_level not in d.eliminated
    treated = [i + 1 for i, n in enumerate(data.summary.n_treated) if n > 0]
    highest = max(treated, default=0)
    assert d.next_level <= max(highest + 1, design.start_level)


#: 3+3 completes cohorts: 0 DLTs in 3 escalates, 0 in 4 stays until the cohort of 6 is complete (R
#: escalation's rule; tests/test_three_plus_three.py checks that case)
COHORT_RULES = {"3+3"}


@pytest.mark.parametrize("method", [m for m in METHODS if m not in COHORT_RULES])
@SETTINGS
@given(data=trial_data(), complete=st.booleans())
def test_an_added_non_dlt_never_lowers_the_next_dose(
    method: str, data: TrialData, complete: bool
) -> None:
    """One more patient without a DLT at the current dose never lowers the recommended dose."""
    current = data.current_dose_level
    assume(current is not None)
    last_day = max(p.infused_day for p in data.patients)
    day = last_day if not complete else min(last_day, data.as_of_day - data.dlt_window_days)
    assume(day == last_day)  # the new patient must not change which dose is current
    extra = Patient(patient_id="ZZ-new", dose_level=current, infused_day=day)  # type: ignore[arg-type]
    other = dataclasses.replace(data, patients=(*data.patients, extra))
    design = make_design(method, data.n_doses)
    before, after = design.decide(data), design.decide(other)
    assume(before.action not in (Action.STOP, Action.WAIT))
    assume(after.action not in (Action.STOP, Action.WAIT))
    assert after.next_level >= before.next_level  # type: ignore[operator]
