"""The counts form of trial data costs O(doses) and decides as the same patients given one by one.

``TrialData.from_counts`` once built one ``Patient`` per counted patient, so one request counting
2**31 patients took the service's memory (issue 15). The counts are now held as counts; these
tests hold every design's decision on them to the decision on the patients they count, written
out (the old representation, kept as the reference), and show that a huge count costs nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import tracemalloc
from typing import Any

import numpy as np
import pytest

from escalation import Decision, Design, Patient, TrialData
from escalation.rules.context import DecisionContext
from escalation.rules.waiting import Stagger
from tests.designs_catalog import DLT_ONLY_METHODS, make_design


def _patients(n_at: list[int], y_at: list[int], window: int) -> TrialData:
    """The same data as ``from_counts``, one patient each (day 0, complete on the as-of day)."""
    patients = [
        Patient(
            patient_id=f"L{i + 1}-{k + 1}",
            dose_level=i + 1,
            infused_day=0,
            dlt=k < y,
            dlt_day=1 if k < y else None,
        )
        for i, (n, y) in enumerate(zip(n_at, y_at, strict=True))
        for k in range(n)
    ]
    return TrialData(
        n_doses=len(n_at), patients=tuple(patients), as_of_day=window, dlt_window_days=window
    )


def _comparable(decision: Decision) -> dict[str, Any]:
    out = {
        f.name: getattr(decision, f.name)
        for f in dataclasses.fields(decision)
        if f.name not in ("diagnostics", "rules")
    }
    out["rules"] = [(r.label, r.triggered) for r in decision.rules]
    return out


# small ladders of counts: every (n, dlt) at up to two treated levels of three
CASES = [
    ([3, 0, 0], [0, 0, 0]),
    ([3, 0, 0], [1, 0, 0]),
    ([3, 0, 0], [2, 0, 0]),
    ([3, 3, 0], [0, 0, 0]),
    ([3, 3, 0], [0, 1, 0]),
    ([3, 3, 0], [0, 3, 0]),
    ([6, 3, 0], [1, 2, 0]),
    ([6, 6, 3], [0, 1, 2]),
    ([3, 6, 6], [0, 1, 1]),
    ([12, 0, 0], [6, 0, 0]),
]


def _design(name: str) -> Design:
    if name == "crm-startup":  # the start-up stage looks at the DLTs seen so far
        return dataclasses.replace(make_design("crm", 3), startup=True)  # type: ignore[call-arg]
    return make_design(name, 3)


@pytest.mark.parametrize("method", [*DLT_ONLY_METHODS, "crm-startup"])
@pytest.mark.parametrize(("n_at", "y_at"), CASES, ids=lambda c: "-".join(map(str, c)))
def test_counts_decide_as_the_patients_they_count(
    method: str, n_at: list[int], y_at: list[int]
) -> None:
    design = _design(method)
    current = max(i + 1 for i, n in enumerate(n_at) if n > 0)
    counted = TrialData.from_counts(n_at, y_at, current_level=current)
    listed = dataclasses.replace(_patients(n_at, y_at, 30), current_level=current)
    assert counted.summary.n_treated.tolist() == listed.summary.n_treated.tolist()
    assert counted.n_patients == listed.n_patients
    assert _comparable(design.decide(counted)) == _comparable(design.decide(listed))
    assert design.select(counted) == design.select(listed)


def test_counts_without_a_current_level_take_the_lowest_treated() -> None:
    counted = TrialData.from_counts([0, 3, 3], [0, 0, 1], current_level=None)
    assert counted.current_dose_level == _patients([0, 3, 3], [0, 0, 1], 30).current_dose_level


@pytest.mark.parametrize(
    ("n", "y", "window", "days"),
    [c for c in itertools.product([2, 3], [0, 2, 3], [3, 30], [7]) if c[1] <= c[0]],
)
def test_stagger_on_counts_as_on_patients(n: int, y: int, window: int, days: int) -> None:
    rule = Stagger(days=days)
    counted = TrialData.from_counts([n, 0], [y, 0], current_level=1, dlt_window_days=window)
    listed = dataclasses.replace(_patients([n, 0], [y, 0], window), current_level=1)
    outcomes = []
    for data in (counted, listed):
        ctx = DecisionContext(
            data=data,
            target=0.3,
            current_index=0,
            start_index=0,
            n_for_safety=data.summary.n_complete,
            dlt_for_safety=data.summary.n_dlt,
            prob_overdose=np.full(2, np.nan),
            eliminated=np.zeros(2, dtype=np.bool_),
            next_index=0,
        )
        outcome, ready = rule.evaluate(ctx)
        outcomes.append((outcome.triggered, ready))
    assert outcomes[0] == outcomes[1]


def test_counts_hold_no_object_per_patient() -> None:
    """A thousand patients counted at each of two doses (the most a count may be) take the memory
    ten do: no object per counted patient (one each took 2**31 x ~150 bytes before the counts were
    bounded at the edge). Measured as allocated memory, not time."""
    peaks = []
    for n in (10, 1000):
        tracemalloc.start()
        try:
            data = TrialData.from_counts([n, n, 0], [n // 10, n // 10, 0], current_level=2)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert data.patients == () and data.n_patients == 2 * n
        peaks.append(peak)
    assert peaks[1] < peaks[0] + 2_000, peaks


@pytest.mark.parametrize("target", [0.2, 0.25, 0.3])
@pytest.mark.parametrize("cutoff", [0.9, 0.95, 0.99])
def test_elimination_boundary_by_bisection_is_the_scan(
    target: float, cutoff: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond a few thousand patients the boundary is bisected (O(log n)), not scanned over every
    DLT count (an array of n + 1): both give the same boundary."""
    from escalation.models import boundaries

    for n in [*range(3, 120), 997, 5000, 12_345]:
        y = np.arange(n + 1)
        over = np.flatnonzero(boundaries.beta_overdose_prob(target, n, y) > cutoff)
        scanned = int(over[0]) if over.size else None
        monkeypatch.setattr(boundaries, "_SCAN_N", 0)
        assert boundaries.elimination_boundary.__wrapped__(n, target, cutoff) == scanned, n
        monkeypatch.undo()
