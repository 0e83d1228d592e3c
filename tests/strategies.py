"""Hypothesis strategies for trial data."""

from __future__ import annotations

from hypothesis import strategies as st

from escalation import Patient, TrialData

WINDOW = 30


@st.composite
def trial_data(
    draw: st.DrawFn,
    *,
    n_doses: int | None = None,
    max_patients: int = 30,
    backfill: bool = False,
) -> TrialData:
    """Valid trial data: patients at any levels and days, some pending, some with DLTs.

    A drawn share of the patients (none, a fifth or half) is infused inside the last window, so
    that both complete and pending data are common. With ``backfill``, patients also carry a
    cohort (escalation or backfill) and a response (true, false or unknown; a known one dated
    between the infusion and the as-of day, or undated).
    """
    k = n_doses or draw(st.integers(2, 6))
    n = draw(st.integers(0, max_patients))
    as_of = draw(st.integers(0, 400))
    patients = []
    recent_share = draw(st.sampled_from([0.0, 0.2, 0.5]))
    for i in range(n):
        level = draw(st.integers(1, k))
        if draw(st.floats(0, 1)) < recent_share:
            infused = draw(st.integers(max(0, as_of - WINDOW), as_of))  # maybe still pending
        else:
            infused = draw(st.integers(max(0, as_of - 300), max(0, as_of - WINDOW)))
        horizon = min(WINDOW, as_of - infused)
        dlt = draw(st.booleans()) and draw(st.booleans())
        dlt_day = infused + draw(st.integers(0, horizon)) if dlt else None
        extra: dict[str, object] = {}
        if backfill:
            response = draw(st.sampled_from([True, False, None]))
            dated = response is not None and draw(st.booleans())
            extra = {
                "cohort": draw(st.sampled_from(["escalation", "escalation", "backfill"])),
                "response": response,
                "response_day": draw(st.integers(infused, as_of)) if dated else None,
            }
        patients.append(
            Patient(
                patient_id=f"P{i:03d}",
                dose_level=level,
                infused_day=infused,
                dlt=dlt,
                dlt_day=dlt_day,
                **extra,  # type: ignore[arg-type]
            )
        )
    return TrialData(n_doses=k, patients=tuple(patients), as_of_day=as_of, dlt_window_days=WINDOW)


@st.composite
def complete_counts(draw: st.DrawFn) -> tuple[list[int], list[int], int]:
    """Per-dose counts (complete data) with a current level that has patients."""
    k = draw(st.integers(2, 6))
    n = [draw(st.integers(0, 12)) for _ in range(k)]
    current = draw(st.integers(1, k))
    n[current - 1] = max(n[current - 1], 1)
    y = [draw(st.integers(0, m)) for m in n]
    return n, y, current
